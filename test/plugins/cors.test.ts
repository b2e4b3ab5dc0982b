import t from 'tap'
import { buildApp } from '../../src/app.js'
import { freshDatabase } from '../database.js'
import { authHeader, buildTestApp, createEvent, testConfig } from '../helper.js'

const ALLOWED = 'https://app.example.com'
const preflight = (url: string, origin: string, method = 'POST') => ({
  method: 'OPTIONS' as const,
  url,
  headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type, idempotency-key' }
})

t.test('a preflight from an allowed origin is answered before auth, rate limits and body checks', async (t) => {
  const app = await buildTestApp(t, { CORS_ORIGINS: `${ALLOWED}, http://localhost:5173`, RATE_LIMIT_PER_IP: '1' })
  const event = await createEvent(app)
  for (const [url, method] of [['/v1/events', 'POST'], [`/v1/events/${event.id}`, 'PATCH'], [`/v1/events/${event.id}`, 'DELETE'], ['/v1/api-keys', 'GET']]) {
    const res = await app.inject(preflight(url!, ALLOWED, method))
    t.equal(res.statusCode, 204, `${method} ${url}: no key needed, not limited, no 404 or 415`)
    t.equal(res.headers['access-control-allow-origin'], ALLOWED)
    t.equal(res.headers['access-control-allow-methods'], 'GET, POST, PATCH, DELETE')
    t.equal(res.headers['access-control-allow-headers'],
      'Authorization, Content-Type, If-Match, If-None-Match, Idempotency-Key, Change-Reason, X-Request-Id, Consistency-Token')
    t.equal(res.headers['access-control-max-age'], '7200')
    t.notOk('ratelimit-limit' in res.headers, `${method} ${url}: preflights are not counted`)
  }
  t.equal((await app.inject(preflight('/v1/events', 'http://localhost:5173'))).headers['access-control-allow-origin'], 'http://localhost:5173')
})

t.test('responses to an allowed origin carry CORS headers, errors included; others get none', async (t) => {
  const app = await buildTestApp(t, { CORS_ORIGINS: ALLOWED, RATE_LIMIT_PER_IP: '1' })
  const ok = await app.inject({ url: '/v1/regions', headers: { origin: ALLOWED } })
  t.equal(ok.statusCode, 200)
  t.equal(ok.headers['access-control-allow-origin'], ALLOWED)
  t.equal(ok.headers.vary, 'Origin')
  const exposed = String(ok.headers['access-control-expose-headers']).split(', ')
  for (const header of ['ETag', 'Location', 'Retry-After', 'X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset',
    'Deprecation', 'Sunset', 'Link', 'Idempotent-Replayed', 'Consistency-Token', 'X-Served-By']) {
    t.ok(exposed.includes(header), `exposes ${header}`)
  }
  const limited = await app.inject({ url: '/v1/regions', headers: { origin: ALLOWED } })
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['access-control-allow-origin'], ALLOWED, 'a page can read its 429')
  const unauthorized = await app.inject({ method: 'POST', url: '/v1/companies', headers: { origin: ALLOWED, ...await authHeader(app, ['read']) }, payload: { name: 'x' } })
  t.equal(unauthorized.statusCode, 403)
  t.equal(unauthorized.headers['access-control-allow-origin'], ALLOWED, 'and its 403')

  for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.net', 'http://app.example.com', 'null']) {
    const other = await app.inject({ url: '/healthz', headers: { origin } })
    t.equal(other.statusCode, 200)
    t.notOk('access-control-allow-origin' in other.headers, `${origin} is not allowed`)
    const pre = await app.inject(preflight('/v1/events', origin))
    t.notOk('access-control-allow-origin' in pre.headers, `${origin}: its preflight allows nothing`)
  }
})

t.test('without CORS_ORIGINS there are no CORS headers at all', async (t) => {
  const app = await buildTestApp(t)
  const res = await app.inject({ url: '/v1/regions', headers: { origin: ALLOWED } })
  t.equal(res.statusCode, 200)
  t.notOk(Object.keys(res.headers).some((h) => h.startsWith('access-control-')), 'no access-control-* header')
  const pre = await app.inject(preflight('/v1/events', ALLOWED))
  t.notOk(Object.keys(pre.headers).some((h) => h.startsWith('access-control-')), 'not even on a preflight')
})

t.test('an entry of CORS_ORIGINS that is not an exact origin stops the boot', async (t) => {
  for (const bad of ['*', 'app.example.com', 'https://app.example.com/', 'https://app.example.com/path']) {
    const { database, drop } = await freshDatabase()
    await t.rejects(buildApp(testConfig({ CORS_ORIGINS: bad }), { database, logger: false }), /CORS_ORIGINS/, bad)
    await database.close()
    await drop()
  }
})
