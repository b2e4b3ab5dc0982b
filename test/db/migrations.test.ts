import { randomUUID } from 'node:crypto'
import t from 'tap'
import { createDb } from '../../src/db/client.js'
import { migrationsApplied, runMigrations } from '../../src/db/migrate.js'
import { admin, serverUrl } from '../database.js'

t.test('instances that start at once on an empty database all migrate it, and start', { skip: serverUrl ? false : 'PostgreSQL only: PGlite has one process' }, async (t) => {
  const name = `market_exits_empty_${randomUUID().replaceAll('-', '')}`
  await admin(`CREATE DATABASE "${name}"`)
  t.teardown(() => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
  const url = new URL(serverUrl!)
  url.pathname = `/${name}`
  // One connection each, as the smallest pool allows: the job queue's install must not need a second one.
  const instances = await Promise.all(Array.from({ length: 3 }, () => createDb({ databaseUrl: url.href, dataDir: '', poolMax: 1 })))
  t.teardown(() => Promise.all(instances.map((i) => i.close())))

  const outcomes = await Promise.allSettled(instances.map((i) => runMigrations(i)))
  t.same(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason)), [], 'every instance migrated without an error')
  t.ok(await migrationsApplied(instances[0]!.db), 'every migration is applied')
  const queues = await instances[0]!.pool!.query("SELECT name FROM pgboss.queue WHERE name = 'webhook-delivery'")
  t.equal(queues.rowCount, 1, 'and the job queue is installed with its queue')
})
