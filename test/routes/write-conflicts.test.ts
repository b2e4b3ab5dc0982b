import { setTimeout } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import pg from 'pg'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import { freshDatabase, serverUrl } from '../database.js'
import { authHeader, buildTestApp, createEvent, testConfig } from '../helper.js'

// Writers lock rollup rows as their events move; PostgreSQL breaks a lock cycle by aborting one transaction (40P01),
// which is a conflict to retry, not a failure. Here another session makes the cycle on purpose: it holds the rollup
// rows, waits until the PATCH waits on them, then asks for the event row the PATCH holds.
t.test('a write that PostgreSQL aborts to break a deadlock is retried and lands', { skip: serverUrl ? false : 'PGlite has one connection' }, async (t) => {
  const { database, url, drop } = await freshDatabase()
  const app = await buildApp(testConfig(), { database, logger: false })
  t.teardown(async () => { await app.close(); await drop() })
  const event = await createEvent(app, { date: '2022-03-08' })
  const other = new pg.Client({ connectionString: url })
  await other.connect()
  t.teardown(() => other.end())
  // This session must not be the one PostgreSQL aborts: the PATCH's backend looks for the cycle first.
  await other.query("SET deadlock_timeout = '10s'")
  await other.query('BEGIN')
  await other.query('SELECT 1 FROM event_month_counts FOR UPDATE')

  const patched = app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers: await authHeader(app), payload: { date: '2022-05-20' } })
  const waiting = async () => (await other.query(`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)).rows[0].n > 0
  const deadline = Date.now() + 30_000
  while (!await waiting()) {
    if (Date.now() > deadline) throw new Error('the PATCH never came to wait on the rollup rows')
    await setTimeout(20)
  }
  await other.query('SELECT 1 FROM events WHERE id = $1 FOR UPDATE', [event.id])
  await other.query('ROLLBACK')

  const res = await patched
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.json().date, '2022-05-20')
  const series = await app.inject({ url: '/v1/events/timeseries', query: { interval: 'month' } })
  t.same(series.json().buckets.filter((b: { total: number }) => b.total > 0).map((b: { period: string, total: number }) => [b.period, b.total]),
    [['2022-05', 1]], 'the month counts moved once')
})

t.test('a write that keeps conflicting is tried three times, then answered 503 with nothing applied', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: 'metrics-token-for-conflicts' })
  // Every company insert fails as a serialisation failure would; the sequence, outside transactions, counts the attempts.
  await app.db.execute(sql`CREATE SEQUENCE attempts`)
  await app.db.execute(sql.raw(`CREATE FUNCTION conflict () RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM nextval('attempts'); RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure'; END $$`))
  await app.db.execute(sql`CREATE TRIGGER conflict BEFORE INSERT ON companies FOR EACH ROW EXECUTE FUNCTION conflict()`)

  const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: await authHeader(app), payload: { name: 'Never written' } })
  t.equal(res.statusCode, 503)
  t.match(res.json(), { type: '/problems/service-unavailable', code: 'APP_WRITE_CONFLICT' })
  t.ok(res.headers['retry-after'])
  t.same(await queryRows(app.db, sql`SELECT last_value::int AS attempts FROM attempts`), [{ attempts: 3 }])
  t.same(await queryRows(app.db, sql`SELECT count(*)::int AS n FROM revisions`), [{ n: 0 }], 'no history row either')
  const metrics = await app.inject({ url: '/metrics', headers: { authorization: 'Bearer metrics-token-for-conflicts' } })
  t.match(metrics.body, /^db_query_errors_total\{reason="conflict"\} 1$/m, 'counted as a conflict')
  t.match(metrics.body, /^db_query_errors_total\{reason="failed"\} 0$/m, 'not as a failure')
})

t.test('an import batch that met a conflict is written again, every line once', async (t) => {
  const app = await buildTestApp(t)
  // The first attempt at inserting the batch's events fails as a deadlock would; the retry finds the trigger quiet.
  await app.db.execute(sql`CREATE SEQUENCE attempts`)
  await app.db.execute(sql.raw(`CREATE FUNCTION conflict_once () RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF nextval('attempts') = 1 THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END IF; RETURN NULL; END $$`))
  await app.db.execute(sql`CREATE TRIGGER conflict_once AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION conflict_once()`)

  const lines = ['A', 'B', 'C'].map((name) => JSON.stringify({
    company: { name, country: 'DE' },
    region: 'RU',
    service: 'All operations',
    action: 'exit',
    date: '2022-03-08',
    sources: [{ url: `https://news.example.com/${name}` }],
    external_id: `conflict-${name}`
  }))
  const res = await app.inject({
    method: 'POST', url: '/v1/imports?mode=partial', headers: { ...await authHeader(app), 'content-type': 'application/x-ndjson' }, payload: lines.join('\n')
  })
  t.equal(res.statusCode, 202, res.body)
  const result = (await app.inject({ url: `/v1/imports/${res.json().id}` })).json()
  t.match(result, { status: 'done', counts: { created: 3, updated: 0, unchanged: 0, rejected: 0 } })
  t.same(await queryRows(app.db, sql`SELECT last_value::int AS attempts FROM attempts`), [{ attempts: 2 }])
  t.same(await queryRows(app.db, sql`SELECT count(*)::int AS events, count(DISTINCT company_id)::int AS companies FROM events`), [{ events: 3, companies: 3 }])
  t.same(await queryRows(app.db, sql`SELECT count(*)::int AS n FROM companies`), [{ n: 3 }], 'the companies of the failed attempt rolled back with it')
})

t.test('an atomic import that meets a conflict stops as failed, with nothing landed, and may be sent again', async (t) => {
  const app = await buildTestApp(t)
  await app.db.execute(sql.raw(`CREATE FUNCTION conflict () RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END $$`))
  await app.db.execute(sql`CREATE TRIGGER conflict AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION conflict()`)
  const post = async () => app.inject({
    method: 'POST',
    url: '/v1/imports?mode=atomic',
    headers: { ...await authHeader(app), 'content-type': 'application/x-ndjson' },
    payload: JSON.stringify({
      company: { name: 'Atomic', country: 'DE' }, region: 'RU', service: 'All operations', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://news.example.com/atomic' }]
    })
  })

  const res = await post()
  t.equal(res.statusCode, 503)
  t.match(res.json(), { code: 'APP_WRITE_CONFLICT' })
  t.same(await queryRows(app.db, sql`SELECT status, failure FROM imports`),
    [{ status: 'failed', failure: 'The import stopped on an error; nothing landed' }])
  t.same(await queryRows(app.db, sql`SELECT (SELECT count(*)::int FROM events) AS events, (SELECT count(*)::int FROM companies) AS companies`),
    [{ events: 0, companies: 0 }])

  await app.db.execute(sql`DROP TRIGGER conflict ON events`)
  const again = await post()
  t.equal(again.statusCode, 202, again.body)
  t.match((await app.inject({ url: `/v1/imports/${again.json().id}` })).json(), { status: 'done', counts: { created: 1 } })
})
