import { fileURLToPath, pathToFileURL } from 'node:url'
import { sql } from 'drizzle-orm'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { loadConfig, databaseOptions } from '../config.js'
import { createDb, queryRows, type Database, type Executor } from './client.js'
import { pgErrorCode, UNDEFINED_SCHEMA, UNDEFINED_TABLE } from './errors.js'
import { migrateJobQueue } from './job-queue.js'

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url))
// Any constant works; it only has to be the same for every instance of this application.
const MIGRATION_LOCK_KEY = 7_212_022

/**
 * Applies pending migrations, then installs or upgrades the job queue's schema (pg-boss). On a server, both under
 * an advisory lock, so that several instances can start at once: pg-boss's own guard against a concurrent install
 * expects an "already exists" error, and instances starting together on an empty database got a unique violation
 * on the schema's name instead, which stopped them.
 */
export async function runMigrations (database: Database): Promise<void> {
  if (database.pglite) {
    await migratePglite(drizzlePglite(database.pglite), { migrationsFolder })
    await migrateJobQueue(database)
    return
  }
  const client = await database.pool!.connect()
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      await migratePg(drizzlePg(client), { migrationsFolder })
      // On the locked connection: another from the pool could wait forever for one when the pool has a single one.
      await migrateJobQueue(database, { executeSql: (text, values) => client.query(text, values) })
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
    }
  } finally {
    client.release()
  }
}

const latestMigrationMillis = Math.max(0, ...readMigrationFiles({ migrationsFolder }).map((m) => m.folderMillis))

/** True when the newest migration in the repository has been applied to this database. */
export async function migrationsApplied (db: Executor): Promise<boolean> {
  const rows = await queryRows<{ latest: string | number }>(db, sql`
    SELECT coalesce(max(created_at), 0)::bigint AS latest FROM drizzle.__drizzle_migrations`)
    .catch((err: unknown) => {
      if (pgErrorCode(err) === UNDEFINED_TABLE || pgErrorCode(err) === UNDEFINED_SCHEMA) return []
      throw err
    })
  return Number(rows[0]?.latest ?? 0) >= latestMigrationMillis
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const database = await createDb(databaseOptions(loadConfig()))
  try {
    await runMigrations(database)
  } finally {
    await database.close()
  }
}
