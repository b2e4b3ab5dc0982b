import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { createDb } from '../../src/db/client.js'
import { freshDatabase } from '../database.js'
import { authHeader, buildTestApp, createEvent, testConfig } from '../helper.js'

const TOKEN = `metrics-${randomUUID()}`
const scrapeHeaders = { authorization: `Bearer ${TOKEN}` }

async function scrape (app: App): Promise<string> {
  const res = await app.inject({ url: '/metrics', headers: scrapeHeaders })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`)
  return res.body
}

/** The value of one sample, by its name and exact labels as prom-client writes them; undefined when absent. */
function sample (text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('without METRICS_TOKEN metrics are off: /metrics is a 404, whatever is sent', async (t) => {
  const app = await buildTestApp(t)
  for (const headers of [{}, scrapeHeaders]) {
    const res = await app.inject({ url: '/metrics', headers })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { code: 'APP_ROUTE_NOT_FOUND' })
  }
})

t.test('/metrics is refused without the token or with a wrong one, and is not rate-limited', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN, RATE_LIMIT_PER_IP: '1', READ_REQUIRES_KEY: 'true' })
  const apiKey = await authHeader(app, ['admin'])
  for (const headers of [{}, { authorization: `Bearer ${TOKEN}x` }, { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }, apiKey]) {
    const res = await app.inject({ url: '/metrics', headers })
    t.equal(res.statusCode, 401, `refused: ${JSON.stringify(headers).slice(0, 40)}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.headers['www-authenticate'], /^Bearer /)
    t.notOk(res.body.includes(TOKEN), 'the token is not echoed')
  }
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ url: '/metrics', headers: { authorization: `bearer  ${TOKEN}` } })
    t.equal(res.statusCode, 200, `scrape ${i + 1}: neither the API's keys nor its rate limit stand in the way`)
    t.equal(res.headers['ratelimit-limit'], undefined)
    t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4; charset=utf-8/)
  }
})

t.test('a setting that is too short to be a secret stops the boot', async (t) => {
  t.throws(() => testConfig({ METRICS_TOKEN: 'short' }))
})

t.test('requests are counted and timed per route pattern, method and status class', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  const event = await createEvent(app)
  const missing = randomUUID()
  for (const url of [`/v1/events/${event.id}`, `/v1/events/${event.id}`, `/v1/events/${missing}`, '/healthz', `/nowhere/${randomUUID()}`, `/v1/${randomUUID()}`]) {
    await app.inject({ url })
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/companies', payload: { name: 'No key' } })).statusCode, 401)
  const text = await scrape(app)

  t.match(text, /# TYPE http_requests_total counter/)
  t.match(text, /# TYPE http_request_duration_seconds histogram/)
  t.equal(sample(text, 'http_requests_total', 'method="GET",route="/v1/events/:id",status_class="2xx"'), 2, 'two 200s of one route')
  t.equal(sample(text, 'http_requests_total', 'method="GET",route="/v1/events/:id",status_class="4xx"'), 1, 'and a 404 of it, apart')
  t.equal(sample(text, 'http_requests_total', 'method="GET",route="/healthz",status_class="2xx"'), 1)
  t.equal(sample(text, 'http_requests_total', 'method="POST",route="/v1/companies",status_class="4xx"'), 1, 'a request refused by auth')
  t.equal(sample(text, 'http_requests_total', 'method="GET",route="unmatched",status_class="4xx"'), 2, 'unknown URLs share one label')
  t.notOk(text.includes(event.id) || text.includes(missing), 'no raw URL is a label')
  t.notMatch(text, /route="\/metrics"/, 'scrapes are not counted')

  const labels = 'method="GET",route="/v1/events/:id",status_class="2xx"'
  t.equal(sample(text, 'http_request_duration_seconds_count', labels), 2)
  t.ok(sample(text, 'http_request_duration_seconds_sum', labels)! > 0, 'time was spent')
  t.equal(sample(text, 'http_request_duration_seconds_bucket', `le="+Inf",${labels}`), 2)
  t.ok(sample(text, 'http_request_duration_seconds_bucket', `le="0.005",${labels}`)! <= 2, 'bucketed')

  const again = await scrape(app)
  t.equal(sample(again, 'http_requests_total', 'method="GET",route="/healthz",status_class="2xx"'), 1, 'counters only grow with requests')
})

t.test('event-loop delay and the process metrics of prom-client', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  const text = await scrape(app)
  for (const name of ['nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_eventloop_lag_max_seconds',
    'process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
    t.type(sample(text, name), 'number', name)
  }
  t.ok(sample(text, 'nodejs_eventloop_lag_p99_seconds')! >= 0)
})

t.test('each app has its registry: two apps in one process count apart', async (t) => {
  const one = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  const two = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  await one.inject({ url: '/healthz' })
  t.equal(sample(await scrape(one), 'http_requests_total', 'method="GET",route="/healthz",status_class="2xx"'), 1)
  t.equal(sample(await scrape(two), 'http_requests_total', 'method="GET",route="/healthz",status_class="2xx"'), undefined)
})

t.test('the database pool: in use, idle and waiting on PostgreSQL; nothing on PGlite', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  const pool = app.database.pool
  if (!pool) {
    t.notMatch(await scrape(app), /db_pool_/, 'PGlite has no pool to report')
    return
  }
  const labels = (state: string) => `pool="primary",state="${state}"`
  t.equal((await app.inject({ url: '/v1/regions' })).statusCode, 200)
  const idle = await scrape(app)
  t.equal(sample(idle, 'db_pool_connections', labels('in_use')), 0)
  t.equal(sample(idle, 'db_pool_waiting_requests', 'pool="primary"'), 0)
  t.equal(sample(idle, 'db_pool_max_connections', 'pool="primary"'), pool.options.max)
  t.ok(sample(idle, 'db_pool_connections', labels('idle'))! >= 1, 'the request left its connection idle')

  // Every connection checked out, and one more query waiting for one.
  const clients = await Promise.all(Array.from({ length: pool.options.max! }, () => pool.connect()))
  const waiting = pool.query('SELECT 1')
  const busy = await scrape(app)
  t.equal(sample(busy, 'db_pool_connections', labels('in_use')), pool.options.max)
  t.equal(sample(busy, 'db_pool_connections', labels('idle')), 0)
  t.ok(sample(busy, 'db_pool_waiting_requests', 'pool="primary"')! >= 1, 'a query waits')
  t.notOk(busy.includes('job_queue_depth{'), 'the queue depth, which needs a connection, is left out rather than holding the scrape')
  for (const client of clients) client.release()
  await waiting
})

t.test('database errors that fail a request are counted', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  const admin = await authHeader(app, ['admin'])
  const before = await scrape(app)
  t.equal(sample(before, 'db_query_errors_total', 'reason="failed"'), 0, 'present from the start')
  t.equal(sample(before, 'db_query_errors_total', 'reason="unavailable"'), 0)

  // A table gone from under the app: its queries fail with 42P01, a 500.
  await app.db.execute(sql`ALTER TABLE companies RENAME TO companies_away`)
  t.teardown(() => app.db.execute(sql`ALTER TABLE IF EXISTS companies_away RENAME TO companies`))
  t.equal((await app.inject({ url: '/v1/companies' })).statusCode, 500)
  t.equal((await app.inject({ url: '/v1/companies' })).statusCode, 500)
  t.equal(sample(await scrape(app), 'db_query_errors_total', 'reason="failed"'), 2)
  await app.db.execute(sql`ALTER TABLE companies_away RENAME TO companies`)

  for (const status of [201, 409]) {
    t.equal((await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'twice', scopes: ['read'] } })).statusCode, status)
  }
  t.equal(sample(await scrape(app), 'db_query_errors_total', 'reason="failed"'), 2, 'a unique violation answered as a conflict is not a failure')
})

t.test('an unreachable database: requests fail as unavailable, and the scrape still answers', async (t) => {
  // Port 1 is closed: connections are refused at once.
  const database = await createDb({ databaseUrl: 'postgres://postgres@127.0.0.1:1/none', dataDir: 'memory://', connectTimeoutMs: 500 })
  const app = await buildApp(testConfig({ METRICS_TOKEN: TOKEN }), { database, logger: false })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/v1/regions' })).statusCode, 503)
  const text = await scrape(app)
  t.equal(sample(text, 'db_query_errors_total', 'reason="unavailable"'), 1)
  t.notOk(text.includes('job_queue_depth{'), 'no depth to report')
  t.match(text, /# TYPE job_queue_depth gauge/)
})

t.test('the depth of the webhook delivery queue', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN })
  t.equal(sample(await scrape(app), 'job_queue_depth', 'queue="webhook-delivery"'), 0)
  // A subscription, then a company and its event dispatched: a delivery job each waits, since no worker runs here.
  const admin = await authHeader(app, ['admin'])
  const subscribed = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: 'https://93.184.215.14/hooks/metrics' } })
  t.equal(subscribed.statusCode, 201)
  await createEvent(app)
  await app.services.webhookDispatch.dispatch()
  const deliveries = (await app.inject({ url: `/v1/webhooks/${subscribed.json().id}/deliveries`, headers: admin })).json().data
  t.equal(deliveries.length, 2)
  t.equal(sample(await scrape(app), 'job_queue_depth', 'queue="webhook-delivery"'), 2, 'both jobs wait')
})

t.test('the queue depth is reported by an instance that delivers webhooks too', async (t) => {
  const app = await buildTestApp(t, { METRICS_TOKEN: TOKEN, WEBHOOKS_ENABLED: 'true', WEBHOOK_POLL_INTERVAL_MS: '600000' })
  await app.ready()
  t.type(sample(await scrape(app), 'job_queue_depth', 'queue="webhook-delivery"'), 'number')
})

/** An app whose log lines are kept, as JSON objects. */
async function loggedApp (t: Test, env: Record<string, string> = {}, logger: Record<string, unknown> = {}) {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { database, drop } = await freshDatabase()
  const app = await buildApp(testConfig(env), { database, logger: { level: 'info', stream, ...logger } })
  t.teardown(async () => { await app.close(); await drop() })
  return { app, lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, any>) }
}

t.test('the log: each request completed with its id, route pattern, method, status, duration and API key id, never a secret', async (t) => {
  const { app, lines, entries } = await loggedApp(t, { METRICS_TOKEN: TOKEN }, {
    // Headers logged, to show that the credentials among them are redacted.
    serializers: { req: (req: { method: string, url: string, headers: Record<string, string> }) => ({ method: req.method, url: req.url, headers: req.headers }) }
  })
  const { id: keyId, key } = await app.services.apiKeys.create('logged', ['read', 'write'])
  const created = await app.inject({
    method: 'POST',
    url: '/v1/companies',
    headers: { authorization: `Bearer ${key}`, cookie: 'session=cookie-secret', 'x-request-id': 'trace-me-123' },
    payload: { name: 'Logged' }
  })
  t.equal(created.statusCode, 201)
  const read = await app.inject({ url: `/v1/companies/${created.json().id}` })
  const lost = await app.inject({ url: `/nowhere/${randomUUID()}` })
  t.equal((await app.inject({ url: '/metrics', headers: scrapeHeaders })).statusCode, 200)

  const completed = entries().filter((e) => e.msg === 'request completed')
  t.equal(completed.length, 4, 'one line per request')
  t.match(completed.find((e) => e.reqId === 'trace-me-123'), {
    level: 30, method: 'POST', route: '/v1/companies', status: 201, duration_ms: Number, api_key_id: keyId
  }, 'the caller\'s request id, and the key that was used')
  const anonymous = completed.find((e) => e.reqId === read.headers['x-request-id'])
  t.match(anonymous, { method: 'GET', route: '/v1/companies/:id', status: 200 })
  t.notOk('api_key_id' in anonymous!, 'no key, no key id')
  t.match(completed.find((e) => e.reqId === lost.headers['x-request-id']), { route: null, status: 404 })
  t.ok(completed.every((e) => typeof e.duration_ms === 'number' && e.duration_ms >= 0), 'durations in milliseconds')

  const logged = lines.join('')
  for (const secret of [key, key.slice(-20), TOKEN, 'cookie-secret']) t.notOk(logged.includes(secret), `${secret.slice(0, 6)}… is not in the log`)
  const incoming = entries().filter((e) => e.msg === 'incoming request' && e.req.headers.authorization)
  t.equal(incoming.length, 2, 'the requests with credentials were logged')
  t.ok(incoming.every((e) => e.req.headers.authorization === '[Redacted]'), 'Authorization is [Redacted]')
  t.equal(incoming.find((e) => e.req.headers.cookie)?.req.headers.cookie, '[Redacted]', 'Cookie is [Redacted]')
})
