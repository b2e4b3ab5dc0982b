import { sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { migrationsApplied } from '../db/migrate.js'

const CHECK_TIMEOUT_MS = 1000

export interface Readiness {
  database: 'ok' | 'unreachable'
  migrations: 'ok' | 'pending' | 'unknown'
}

const withTimeout = <T>(promise: Promise<T>, ms: number) => Promise.race([
  promise,
  new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())
])

export function createHealthService ({ db }: { db: Db }) {
  return {
    /** Whether the database answers within a second, and whether every migration is applied. */
    async readiness (): Promise<Readiness> {
      const database = await withTimeout(db.execute(sql`SELECT 1`), CHECK_TIMEOUT_MS)
        .then(() => 'ok' as const, () => 'unreachable' as const)
      if (database !== 'ok') return { database, migrations: 'unknown' }
      const migrations = await withTimeout(migrationsApplied(db), CHECK_TIMEOUT_MS)
        .then((applied) => applied ? 'ok' as const : 'pending' as const, () => 'unknown' as const)
      return { database, migrations }
    }
  }
}
export type HealthService = ReturnType<typeof createHealthService>
