import { sql } from 'drizzle-orm'
import pg from 'pg'
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { parseLsn } from '../../src/db/replicas.js'
import { startProxy } from '../faults/tcp-proxy.js'
import { freshDatabase, serverUrl } from '../database.js'
import { authHeader, buildTestApp, createEvent, testConfig } from '../helper.js'

// The real thing, a streaming replica that lags, is test/scale/replica.test.ts; here the "replicas" are the
// primary itself (not a standby), a port nobody listens on, and a proxy to the primary that is then cut.
const noServer = serverUrl ? false : 'read replicas need PostgreSQL: the suite runs on PGlite'
const DEAD_URL = 'postgres://postgres@127.0.0.1:1/nothing'
// Bounds far from what a read takes on a busy machine, so that only a wait, or a replica given up, can cross them
// (these tests used 100 and 500 ms, which a read on a machine running CI's suites side by side can take).
const CONNECT_TIMEOUT_MS = 1500
const STATEMENT_TIMEOUT_MS = 1500
const CONSISTENCY_WAIT_MS = 3000

/** An app on a fresh database whose read replicas are `replicaUrls(url of that database)`. */
async function appWithReplicas (t: Test, replicaUrls: (url: string) => string[], env: Record<string, string> = {}): Promise<App> {
  const { database, url, drop } = await freshDatabase()
  const app = await buildApp(testConfig({ DATABASE_READ_URLS: replicaUrls(url!).join(','), DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS), ...env }), { database, logger: false })
  t.teardown(async () => {
    await app.close()
    await drop()
  })
  return app
}

async function createCompany (t: Test, app: App, name: string) {
  const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: await authHeader(app), payload: { name } })
  t.equal(res.statusCode, 201)
  return { id: res.json().id as string, token: res.headers['consistency-token'] as string }
}

t.test('every successful write answers a consistency token, and a read that presents it sees the write', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const created = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Tokened' } })
  t.equal(created.statusCode, 201)
  const first = created.headers['consistency-token'] as string
  t.match(first, /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/, 'a WAL position')
  const id = created.json().id as string

  const patched = await app.inject({ method: 'PATCH', url: `/v1/companies/${id}`, headers, payload: { name: 'Tokened again' } })
  t.equal(patched.statusCode, 200)
  const second = patched.headers['consistency-token'] as string
  t.ok(parseLsn(second)! > parseLsn(first)!, `a later write has a later token (${first} < ${second})`)

  const read = await app.inject({ url: `/v1/companies/${id}`, headers: { 'consistency-token': second } })
  t.equal(read.statusCode, 200)
  t.equal(read.json().name, 'Tokened again')
  t.notOk('x-served-by' in read.headers, 'without replicas, nothing says who served it')
  t.notOk('consistency-token' in read.headers, 'reads carry no token')

  const refused = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: '' } })
  t.equal(refused.statusCode, 400)
  t.notOk('consistency-token' in refused.headers, 'a refused write has no token')

  const malformed = await app.inject({ url: `/v1/companies/${id}`, headers: { 'consistency-token': 'yesterday' } })
  t.equal(malformed.statusCode, 400)
  t.match(malformed.json(), { code: 'APP_VALIDATION', errors: [{ in: 'headers' }] })
})

t.test('DATABASE_READ_URLS that are not postgres:// URLs stop the boot; so do replicas of PGlite', async (t) => {
  const { database, drop } = await freshDatabase()
  t.teardown(drop)
  await t.rejects(buildApp(testConfig({ DATABASE_READ_URLS: 'mysql://replica:3306/x' }), { database, logger: false }),
    /DATABASE_READ_URLS: 'mysql:\/\/replica:3306\/x' is not a postgres:\/\/ URL/)
  if (serverUrl) return
  await t.rejects(buildApp(testConfig({ DATABASE_READ_URLS: DEAD_URL }), { database, logger: false }),
    /DATABASE_READ_URLS needs DATABASE_URL/)
})

t.test('a server that is not a standby serves reads without a token; reads with one go to the primary', { skip: noServer }, async (t) => {
  const app = await appWithReplicas(t, (url) => [url], { READ_CONSISTENCY_WAIT_MS: String(CONSISTENCY_WAIT_MS) })
  await replicaServing(app)
  const { id, token } = await createCompany(t, app, 'Same server')
  const plain = await app.inject({ url: `/v1/companies/${id}` })
  t.equal(plain.statusCode, 200)
  t.equal(plain.headers['x-served-by'], 'replica')
  const started = Date.now()
  const tokened = await app.inject({ url: `/v1/companies/${id}`, headers: { 'consistency-token': token } })
  t.equal(tokened.statusCode, 200)
  t.equal(tokened.headers['x-served-by'], 'primary', 'it has no replay position to compare with the token')
  const took = Date.now() - started
  t.ok(took < CONSISTENCY_WAIT_MS / 2, `and no reason to wait for one (${took} ms; the wait is ${CONSISTENCY_WAIT_MS} ms)`)
  const list = await app.inject({ url: '/v1/companies?limit=5' })
  t.equal(list.statusCode, 200)
  t.equal(list.headers['x-served-by'], 'replica')
  const head = await app.inject({ method: 'HEAD', url: `/v1/companies/${id}` })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['x-served-by'], 'replica')
  // A read in a transaction (here: temporary tables, which a standby refuses) is the primary's, from then on.
  const past = await app.inject({ url: `/v1/events?known_at=${encodeURIComponent(new Date().toISOString())}` })
  t.equal(past.statusCode, 200)
  t.equal(past.headers['x-served-by'], 'primary')
  const meta = await app.inject({ url: '/readyz' })
  t.equal(meta.statusCode, 200)
  t.notOk('x-served-by' in meta.headers, 'only /v1 reads are routed')
})

/**
 * Waits until the replica serves reads. A replica's first connection can take longer than the probe allows on a busy
 * machine (CI runs suites side by side), and the replica is then skipped for seconds: what a test checks comes after.
 */
async function replicaServing (app: App): Promise<void> {
  const deadline = Date.now() + 20_000
  while ((await app.inject({ url: '/v1/companies?limit=1' })).headers['x-served-by'] !== 'replica') {
    if (Date.now() > deadline) throw new Error('the replica never served a read')
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

/** Copies the rows of these tables from one database to another, triggers off (the rows are consistent already). */
async function copyRows (fromUrl: string, toUrl: string, tables: string[]): Promise<void> {
  const from = new pg.Client({ connectionString: fromUrl })
  const to = new pg.Client({ connectionString: toUrl })
  await Promise.all([from.connect(), to.connect()])
  try {
    await to.query('SET session_replication_role = replica')
    for (const table of tables) {
      const { rows: [{ rows }] } = await from.query(`SELECT coalesce(json_agg(t), '[]') AS rows FROM ${table} t`)
      const { rows: [{ columns }] } = await to.query(`SELECT string_agg(quote_ident(column_name), ', ') AS columns
        FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND is_generated = 'NEVER'`, [table])
      await to.query(`INSERT INTO ${table} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${table}, $1)`, [JSON.stringify(rows)])
    }
  } finally {
    await Promise.all([from.end(), to.end()])
  }
}

t.test('every query of a read goes to its replica, the prepared ones too: an event by id, the sources of a page', { skip: noServer }, async (t) => {
  // The "replica" is another database, so that where each query went shows in the answer.
  const replica = await freshDatabase()
  t.teardown(async () => {
    await replica.database.close()
    await replica.drop()
  })
  let primaryUrl = ''
  const app = await appWithReplicas(t, (url) => { primaryUrl = url; return [replica.url!] })
  await replicaServing(app)
  const onPrimaryOnly = await createEvent(app)
  const read = await app.inject({ url: `/v1/events/${onPrimaryOnly.id}` })
  t.equal(read.headers['x-served-by'], 'replica')
  t.equal(read.statusCode, 404, 'the replica has not got the event: the read by id went there')

  await copyRows(primaryUrl, replica.url!, ['companies', 'sources', 'events', 'event_sources'])
  const replicaUrl = 'https://replica.example.com/only-here'
  await replica.database.db.execute(sql`UPDATE sources SET url = ${replicaUrl}`)
  const byId = await app.inject({ url: `/v1/events/${onPrimaryOnly.id}` })
  t.equal(byId.statusCode, 200)
  t.same(byId.json().sources.map((s: { url: string }) => s.url), [replicaUrl], 'its sources are the replica\'s')
  const page = await app.inject({ url: '/v1/events' })
  t.equal(page.headers['x-served-by'], 'replica')
  t.same(page.json().data.map((e: { sources: Array<{ url: string }> }) => e.sources[0]!.url), [replicaUrl], 'and so are those of a page')
})

t.test('a replica that cannot be reached causes no error: the primary serves', { skip: noServer }, async (t) => {
  const app = await appWithReplicas(t, () => [DEAD_URL])
  const { id, token } = await createCompany(t, app, 'Dead replica')
  const statuses: number[] = []
  for (let i = 0; i < 20; i++) {
    const res = await app.inject({ url: `/v1/companies/${id}`, headers: i % 2 === 0 ? { 'consistency-token': token } : {} })
    statuses.push(res.statusCode)
    t.equal(res.headers['x-served-by'], 'primary')
  }
  t.same(new Set(statuses), new Set([200]), 'all 200')
})

/** An app whose one replica is the test server reached through a TCP proxy of the test's own, to break. */
async function appWithProxiedReplica (t: Test) {
  const proxy = await startProxy(t, Number(new URL(serverUrl!).port || 5432))
  const app = await appWithReplicas(t, (url) => {
    const replica = new URL(url)
    replica.port = String(proxy.port)
    return [replica.href]
  }, { DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) })
  await replicaServing(app)
  return { app, proxy }
}

t.test('a replica that fails under a read is left for the primary, in the same request', { skip: noServer }, async (t) => {
  const { app, proxy } = await appWithProxiedReplica(t)
  const { id } = await createCompany(t, app, 'Cut replica')
  const before = await app.inject({ url: `/v1/companies/${id}` })
  t.equal(before.headers['x-served-by'], 'replica', 'the replica serves while it can')

  // Connections reset: the query fails at once and the primary answers it.
  proxy.setMode('reset')
  const reset = await app.inject({ url: `/v1/companies/${id}` })
  t.equal(reset.statusCode, 200)
  t.equal(reset.headers['x-served-by'], 'primary')
  const after = await app.inject({ url: `/v1/companies/${id}` })
  t.equal(after.statusCode, 200)
  t.equal(after.headers['x-served-by'], 'primary', 'and the replica is skipped for a while')
})

t.test('a replica that stops answering is timed out and left for the primary', { skip: noServer }, async (t) => {
  const { app, proxy } = await appWithProxiedReplica(t)
  const { id } = await createCompany(t, app, 'Silent replica')
  t.equal((await app.inject({ url: `/v1/companies/${id}` })).headers['x-served-by'], 'replica')

  proxy.setMode('blackhole')
  const started = Date.now()
  const silent = await app.inject({ url: `/v1/companies/${id}` })
  const elapsed = Date.now() - started
  t.equal(silent.statusCode, 200)
  t.equal(silent.headers['x-served-by'], 'primary')
  t.ok(elapsed < STATEMENT_TIMEOUT_MS + 2500, `answered in ${elapsed} ms: the replica's query timeout, then the primary`)
  const next = Date.now()
  t.equal((await app.inject({ url: `/v1/companies/${id}` })).headers['x-served-by'], 'primary')
  const nextTook = Date.now() - next
  t.ok(nextTook < STATEMENT_TIMEOUT_MS / 2, `the next read does not wait for it (${nextTook} ms)`)
  proxy.setMode('pass')
})
