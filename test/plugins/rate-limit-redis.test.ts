import { randomUUID } from 'node:crypto'
import { Writable } from 'node:stream'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { freshDatabase } from '../database.js'
import { buildTestApp, createEvent, testConfig } from '../helper.js'

// A real Redis; CI has one on this address. Elsewhere, without one, these tests are skipped and say so.
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

async function reachable (): Promise<boolean> {
  const probe = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  probe.on('error', () => {})
  try {
    await probe.connect()
    return true
  } catch {
    return false
  } finally {
    probe.disconnect()
  }
}

/** Settings for an app on the shared Redis, under a key prefix of this test's own, removed when it ends. */
function sharedRedis (t: Test, env: Record<string, string>): Record<string, string> {
  const prefix = `market-exits-test:${randomUUID()}:`
  t.teardown(async () => {
    const redis = new Redis(redisUrl)
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  return { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, ...env }
}

const available = await reachable()
if (!available && process.env.CI) t.fail(`no Redis at ${redisUrl}`)

t.test('on Redis', { skip: available ? false : `no Redis at ${redisUrl} (set TEST_REDIS_URL)` }, async (t) => {
  t.test('readiness reports the Redis as ok', async (t) => {
    const app = await buildTestApp(t, sharedRedis(t, {}))
    const ready = await app.inject({ url: '/readyz' })
    t.equal(ready.statusCode, 200)
    t.same(ready.json(), { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'ok', job_queue: 'ok' } })
  })

  t.test('two instances share one counter', async (t) => {
    const env = sharedRedis(t, { RATE_LIMIT_PER_IP: '4' })
    const one = await buildTestApp(t, env)
    const two = await buildTestApp(t, env)
    const statuses = []
    for (const app of [one, two, one, two, one, two]) statuses.push((await app.inject({ url: '/v1/regions' })).statusCode)
    t.same(statuses, [200, 200, 200, 200, 429, 429], 'four in all, whichever instance served them')
    t.equal((await two.inject({ url: '/v1/regions', remoteAddress: '192.0.2.9' })).statusCode, 200, 'another IP, another counter')
    const redis = new Redis(redisUrl)
    const keys = await redis.keys(`${env.REDIS_KEY_PREFIX}*`)
    redis.disconnect()
    t.ok(keys.some((k) => k.startsWith(`${env.REDIS_KEY_PREFIX}rate-limit:ip`)), 'the counters live in Redis under the prefix')
  })

  t.test('the limit per key, a 429 with Retry-After, and a 304 that costs nothing', async (t) => {
    const app = await buildTestApp(t, sharedRedis(t, { RATE_LIMIT_PER_KEY: '2', RATE_LIMIT_WINDOW_SECONDS: '30' }))
    const event = await createEvent(app)
    const { key } = await app.services.apiKeys.create('redis', ['read', 'write'])
    const headers = { authorization: `Bearer ${key}` }
    const first = await app.inject({ url: `/v1/events/${event.id}`, headers })
    t.equal(first.headers['ratelimit-remaining'], '1')
    for (let i = 0; i < 5; i++) {
      const res = await app.inject({ url: `/v1/events/${event.id}`, headers: { ...headers, 'if-none-match': first.headers.etag! } })
      t.equal(res.statusCode, 304)
      t.equal(res.headers['ratelimit-remaining'], '1', 'the point of a 304 is given back')
    }
    t.equal((await app.inject({ method: 'DELETE', url: `/v1/events/${event.id}`, headers })).statusCode, 204)
    const limited = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Too many' } })
    t.equal(limited.statusCode, 429)
    t.match(limited.json(), { type: '/problems/rate-limited' })
    t.ok(Number(limited.headers['retry-after']) >= 1 && Number(limited.headers['retry-after']) <= 30, 'Retry-After within the window')
  })
})

t.test('Redis unreachable: requests are served without limits, and a warning is logged', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { database, drop } = await freshDatabase()
  // Port 1 is closed: connections are refused at once.
  const app = await buildApp(testConfig({ REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_PER_IP: '1' }), { database, logger: { level: 'warn', stream } })
  t.teardown(async () => { await app.close(); await drop() })
  for (let i = 0; i < 3; i++) {
    const res = await app.inject({ url: '/v1/regions' })
    t.equal(res.statusCode, 200, `request ${i + 1} is served`)
    t.notOk('ratelimit-limit' in res.headers, 'with no RateLimit headers, since nothing was counted')
  }
  t.ok(lines.some((l) => /"level":40/.test(l) && /Redis is unreachable/.test(l)), 'a warning says why')
})
