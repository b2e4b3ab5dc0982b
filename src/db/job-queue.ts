import { sql, type SQL } from 'drizzle-orm'
import PgBoss from 'pg-boss'
import type { Database, Executor } from './client.js'

/** The pg-boss queue of webhook deliveries: one job per delivery attempt series. */
export const WEBHOOK_DELIVERY_QUEUE = 'webhook-delivery'
const SCHEMA = 'pgboss'

/**
 * pg-boss runs its SQL through whatever offers `executeSql`, so it shares the app's database instead of
 * opening its own: the pg pool on a server, the one in-process connection on PGlite. pg-boss sends its
 * multi-statement scripts (schema installs, locked migrations) without parameters; PGlite runs those with
 * `exec`, and parameterised single statements with `query`.
 */
export function jobQueueDb (database: Database): PgBoss.Db {
  if (database.pglite) {
    const pglite = database.pglite
    return {
      async executeSql (text, values) {
        if (values && values.length > 0) return pglite.query(text, values) as Promise<{ rows: any[] }>
        const results = await pglite.exec(text)
        return results.at(-1) ?? { rows: [] }
      }
    }
  }
  const pool = database.pool!
  return { executeSql: (text, values) => pool.query(text, values) }
}

/** pg-boss's statement as drizzle SQL: each `$n` becomes that value as one parameter (arrays included). */
function toSql (text: string, values: unknown[] = []): SQL {
  const chunks: SQL[] = []
  let last = 0
  for (const match of text.matchAll(/\$(\d+)/g)) {
    chunks.push(sql.raw(text.slice(last, match.index)), sql`${sql.param(values[Number(match[1]) - 1])}`)
    last = match.index + match[0].length
  }
  chunks.push(sql.raw(text.slice(last)))
  return sql.join(chunks)
}

/**
 * pg-boss over a drizzle transaction, so that a job is enqueued in the same transaction as the rows it is
 * about: it exists exactly when they do. (On PGlite it is also the only way: the one connection is busy
 * with the transaction, and a query outside it would wait for the transaction forever.)
 */
export function transactionJobQueueDb (ex: Executor): PgBoss.Db {
  return {
    async executeSql (text, values) {
      return await ex.execute(toSql(text, values)) as unknown as { rows: any[] }
    }
  }
}

/** A pg-boss instance over the app's database. It opens no connection of its own, so building one is cheap. */
export function createJobQueue (database: Database, options: Partial<PgBoss.ConstructorOptions> = {}): PgBoss {
  return new PgBoss({ db: jobQueueDb(database), schema: SCHEMA, migrate: false, schedule: false, ...options } as PgBoss.ConstructorOptions)
}

/**
 * Installs or upgrades pg-boss's schema and creates the queues, as part of the migrations, over `connection` if
 * given (the one that holds the migration lock) or the app's database.
 */
export async function migrateJobQueue (database: Database, connection?: PgBoss.Db): Promise<void> {
  const boss = createJobQueue(database, { migrate: true, supervise: false, ...(connection ? { db: connection } : {}) })
  boss.on('error', () => {})
  await boss.start()
  try {
    if (!await boss.getQueue(WEBHOOK_DELIVERY_QUEUE)) await boss.createQueue(WEBHOOK_DELIVERY_QUEUE)
  } finally {
    await boss.stop({ graceful: false })
  }
}
