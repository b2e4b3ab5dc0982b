import { sql } from 'drizzle-orm'
import type PgBoss from 'pg-boss'
import type { Db } from '../db/client.js'
import { pgErrorCode, UNDEFINED_SCHEMA, UNDEFINED_TABLE } from '../db/errors.js'
import { WEBHOOK_DELIVERY_QUEUE } from '../db/job-queue.js'
import { migrationsApplied } from '../db/migrate.js'

const CHECK_TIMEOUT_MS = 1000

export interface Readiness {
  database: 'ok' | 'unreachable'
  migrations: 'ok' | 'pending' | 'unknown'
  redis: 'ok' | 'unreachable' | 'not_configured'
  job_queue: 'ok' | 'missing' | 'unreachable' | 'unknown'
}

/** The one command of a Redis client that readiness sends. */
export interface Pingable { ping: () => Promise<unknown> }

const withTimeout = <T>(promise: Promise<T>, ms: number) => Promise.race([
  promise,
  new Promise<never>((_resolve, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())
])

/** Ready when every dependency that is configured answers; Redis is optional (without it, limits are counted in memory). */
export const isReady = (checks: Readiness): boolean =>
  checks.database === 'ok' && checks.migrations === 'ok' && checks.job_queue === 'ok' && checks.redis !== 'unreachable'

export function createHealthService ({ db, jobQueue }: { db: Db, jobQueue: PgBoss }) {
  /** Whether pg-boss's schema answers and holds the webhook delivery queue (both are made by the migrations). */
  const queueCheck = () => withTimeout(jobQueue.getQueue(WEBHOOK_DELIVERY_QUEUE), CHECK_TIMEOUT_MS).then(
    (queue) => queue ? 'ok' as const : 'missing' as const,
    (err: unknown) => [UNDEFINED_TABLE, UNDEFINED_SCHEMA].includes(pgErrorCode(err) ?? '') ? 'missing' as const : 'unreachable' as const)

  return {
    /**
     * Checks each dependency, each within its own second: the database, its migrations, the job queue, and Redis
     * when there is one. Redis is checked alongside the database, so that the whole takes at most two seconds.
     */
    async readiness ({ redis }: { redis?: Pingable | null } = {}): Promise<Readiness> {
      const redisState = redis
        ? withTimeout(redis.ping(), CHECK_TIMEOUT_MS).then(() => 'ok' as const, () => 'unreachable' as const)
        : Promise.resolve('not_configured' as const)
      const database = await withTimeout(db.execute(sql`SELECT 1`), CHECK_TIMEOUT_MS)
        .then(() => 'ok' as const, () => 'unreachable' as const)
      if (database !== 'ok') return { database, migrations: 'unknown', redis: await redisState, job_queue: 'unknown' }
      const [migrations, jobQueueState] = await Promise.all([
        withTimeout(migrationsApplied(db), CHECK_TIMEOUT_MS)
          .then((applied) => applied ? 'ok' as const : 'pending' as const, () => 'unknown' as const),
        queueCheck()
      ])
      return { database, migrations, redis: await redisState, job_queue: jobQueueState }
    },

    /** Jobs waiting in the webhook delivery queue (created or due for a retry), whichever instance delivers them. */
    async queueDepth (): Promise<number> {
      return await withTimeout(jobQueue.getQueueSize(WEBHOOK_DELIVERY_QUEUE), CHECK_TIMEOUT_MS) ?? 0
    }
  }
}
export type HealthService = ReturnType<typeof createHealthService>
