import { createServer, type AddressInfo, type Socket } from 'node:net'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { createDb } from '../../src/db/client.js'
import { createJobQueue, WEBHOOK_DELIVERY_QUEUE } from '../../src/db/job-queue.js'
import { buildTestApp, testConfig } from '../helper.js'

// Every `type` that the contract's error table makes the API emit.
const problemSlugs = [
  'validation-error', 'unauthorized', 'forbidden', 'not-found', 'conflict', 'precondition-failed',
  'payload-too-large', 'unsupported-media-type', 'rate-limited', 'internal-error', 'service-unavailable'
]

t.test('liveness and readiness', async (t) => {
  const app = await buildTestApp(t)
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200)
  t.same(health.json(), { status: 'ok' })
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'not_configured', job_queue: 'ok' } })
})

t.test('readiness fails while migrations are pending', async (t) => {
  // An empty embedded database that no migration has touched.
  const app = await buildApp(testConfig(), { database: await createDb({ dataDir: 'memory://' }), logger: false })
  t.teardown(() => app.close())
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 503)
  t.match(ready.headers['retry-after'], /^[1-9][0-9]*$/)
  t.same(ready.json(), { status: 'not_ready', checks: { database: 'ok', migrations: 'pending', redis: 'not_configured', job_queue: 'missing' } })
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness does not care')
})

t.test('readiness fails while the job queue is missing, whether or not this instance delivers webhooks', async (t) => {
  for (const enabled of ['false', 'true']) {
    const app = await buildTestApp(t, { WEBHOOKS_ENABLED: enabled, WEBHOOK_POLL_INTERVAL_MS: '600000' })
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)
    await createJobQueue(app.database).deleteQueue(WEBHOOK_DELIVERY_QUEUE)
    const ready = await app.inject({ url: '/readyz' })
    t.equal(ready.statusCode, 503, `WEBHOOKS_ENABLED=${enabled}`)
    t.match(ready.headers['retry-after'], /^[1-9][0-9]*$/)
    t.same(ready.json(), { status: 'not_ready', checks: { database: 'ok', migrations: 'ok', redis: 'not_configured', job_queue: 'missing' } })
  }
})

t.test('readiness fails, within its timeout, while the configured Redis is unreachable', async (t) => {
  // Port 1 is closed; the rate limits fail open, but the instance says it is not ready.
  const app = await buildTestApp(t, { REDIS_URL: 'redis://127.0.0.1:1' })
  const started = Date.now()
  const ready = await app.inject({ url: '/readyz' })
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`)
  t.equal(ready.statusCode, 503)
  t.match(ready.headers['retry-after'], /^[1-9][0-9]*$/)
  t.same(ready.json(), { status: 'not_ready', checks: { database: 'ok', migrations: 'ok', redis: 'unreachable', job_queue: 'ok' } })
})

t.test('a Redis that never answers is bounded by the check\'s timeout', async (t) => {
  // A server that accepts connections and never replies: the client's own timeouts are not relied on.
  const sockets = new Set<Socket>()
  const silent = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const socket of sockets) socket.destroy(); silent.close() })
  const app = await buildTestApp(t, { REDIS_URL: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` })
  const started = Date.now()
  const ready = await app.inject({ url: '/readyz' })
  t.ok(Date.now() - started < 2500, `answered in ${Date.now() - started} ms`)
  t.equal(ready.statusCode, 503)
  t.match(ready.json(), { status: 'not_ready', checks: { redis: 'unreachable' } })
})

t.test('the OpenAPI 3.1 document lists the v1 paths', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/openapi.json' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json; charset=utf-8/)
  const doc = res.json()
  t.equal(doc.openapi, '3.1.0')
  t.match(doc.info, { title: String, version: String })
  for (const path of ['/v1/events', '/v1/events/{id}', '/v1/companies', '/v1/companies/{id}', '/v1/regions']) {
    t.type(doc.paths[path], 'object', path)
  }
  t.ok(doc.paths['/v1/events'].get && doc.paths['/v1/events'].post, 'list and create events')
  t.ok(doc.paths['/v1/events/{id}'].get && doc.paths['/v1/events/{id}'].patch && doc.paths['/v1/events/{id}'].delete, 'get, patch and delete an event')
  t.match(doc.components.securitySchemes, { bearerAuth: { type: 'http', scheme: 'bearer' } })
})

t.test('/docs serves the interactive documentation as HTML', async (t) => {
  const app = await buildTestApp(t)
  let url = '/docs'
  let res = await app.inject({ url })
  for (let hops = 0; res.statusCode >= 300 && res.statusCode < 400 && hops < 5; hops++) {
    url = new URL(String(res.headers.location), `http://localhost${url}`).pathname
    res = await app.inject({ url })
  }
  t.equal(res.statusCode, 200, `final url ${url}`)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, /<html/i)
  t.match(res.body, /swagger/i)
})

t.test('every problem type resolves to a plain-text explanation', async (t) => {
  const app = await buildTestApp(t)
  for (const slug of problemSlugs) {
    const res = await app.inject({ url: `/problems/${slug}` })
    t.equal(res.statusCode, 200, slug)
    t.match(res.headers['content-type'], /^text\/plain; charset=utf-8/, slug)
    t.ok(res.body.trim().split('\n').length >= 2 && res.body.length > 40, `${slug} has a title and an explanation`)
  }
  t.match((await app.inject({ url: '/problems/validation-error' })).body, /^Request validation failed\n/)
})

t.test('an unknown problem type is a 404 problem', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/problems/nonsense' })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.json(), { type: '/problems/not-found', status: 404, instance: '/problems/nonsense' })
})
