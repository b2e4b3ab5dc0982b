import type { InjectOptions as Inject } from 'fastify'
import t from 'tap'
import type { App } from '../../src/app.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

/** Sends the request `times` times, each time the same; returns the responses. */
async function repeat (app: App, request: Inject, times: number) {
  const responses = []
  for (let i = 0; i < times; i++) responses.push(await app.inject(request))
  return responses
}

t.test('per key: the (N+1)th request is a 429 problem with Retry-After, on reads, writes and admin routes alike', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_KEY: '3', RATE_LIMIT_WINDOW_SECONDS: '60' })
  const company = await createCompany(app)
  let n = 0
  // Each a function, so that every create has a name of its own.
  const routes: Array<[string, () => Inject]> = [
    ['GET /v1/events', () => ({ url: '/v1/events' })],
    ['GET /v1/companies/{id}', () => ({ url: `/v1/companies/${company.id}` })],
    ['GET /v1/changes', () => ({ url: '/v1/changes' })],
    ['POST /v1/companies', () => ({ method: 'POST', url: '/v1/companies', payload: { name: `Limited ${++n}` } })],
    ['PATCH /v1/companies/{id}', () => ({ method: 'PATCH', url: `/v1/companies/${company.id}`, payload: { sector: `Retail ${++n}` } })],
    ['POST /v1/companies/match', () => ({ method: 'POST', url: '/v1/companies/match', payload: { names: [{ name: 'Acme' }] } })],
    ['GET /v1/api-keys', () => ({ url: '/v1/api-keys' })]
  ]
  for (const [name, route] of routes) {
    // A key of its own per route, so that each route starts with a whole budget.
    const headers = await authHeader(app, ['read', 'write', 'admin'])
    const request = (): Inject => ({ ...route(), headers })
    for (let i = 1; i <= 3; i++) {
      const res = await app.inject(request())
      t.ok(res.statusCode < 300, `${name}: request ${i} is served (${res.statusCode})`)
      t.equal(res.headers['ratelimit-limit'], '3', `${name}: RateLimit-Limit`)
      t.equal(res.headers['ratelimit-remaining'], String(3 - i), `${name}: RateLimit-Remaining after ${i}`)
      t.match(res.headers['ratelimit-reset'], /^[1-9]\d*$/, `${name}: RateLimit-Reset in seconds`)
      t.ok(Number(res.headers['ratelimit-reset']) <= 60)
    }
    const limited = await app.inject(request())
    t.equal(limited.statusCode, 429, `${name}: the 4th request`)
    t.match(limited.headers['content-type'], /^application\/problem\+json/)
    t.match(limited.json(), { type: '/problems/rate-limited', title: 'Too many requests', status: 429, code: 'APP_RATE_LIMITED', detail: /3 requests per 60 seconds/ })
    t.match(limited.headers['retry-after'], /^[1-9]\d*$/, `${name}: Retry-After`)
    t.equal(limited.headers['ratelimit-remaining'], '0')
    t.ok(limited.headers['x-request-id'], 'a 429 still names its request')
  }
  t.equal((await app.inject({ url: '/v1/companies?q=Limited' })).json().data.length, 3, 'the refused create changed nothing')
})

t.test('without a key, requests count per client IP, apart from keyed ones', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_KEY: '5', RATE_LIMIT_PER_IP: '2' })
  const [first, second, third] = await repeat(app, { url: '/v1/regions' }, 3)
  t.equal(first!.headers['ratelimit-limit'], '2', 'the anonymous limit')
  t.equal(second!.statusCode, 200)
  t.equal(third!.statusCode, 429)
  t.equal((await app.inject({ url: '/v1/events', remoteAddress: '192.0.2.7' })).statusCode, 200, 'another IP has its own budget')
  const keyed = await app.inject({ url: '/v1/regions', headers: await authHeader(app, ['read']) })
  t.equal(keyed.statusCode, 200, 'a key on a public read counts against the key, not the IP')
  t.equal(keyed.headers['ratelimit-limit'], '5')
})

t.test('requests that auth refuses count against their IP, and keep their own status', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_IP: '2' })
  const guesses = await repeat(app, { method: 'POST', url: '/v1/companies', headers: { authorization: 'Bearer mxk_guess' }, payload: { name: 'x' } }, 3)
  t.same(guesses.map((r) => r.statusCode), [401, 401, 401])
  t.same(guesses.map((r) => r.headers['ratelimit-remaining']), ['1', '0', '0'])
  const forbidden = await app.inject({ method: 'POST', url: '/v1/companies', headers: await authHeader(app, ['read']), payload: { name: 'x' }, remoteAddress: '192.0.2.8' })
  t.equal(forbidden.statusCode, 403)
  t.equal(forbidden.headers['ratelimit-remaining'], '1', 'a 403 counts too')
  t.equal((await app.inject({ url: '/v1/regions' })).statusCode, 429, 'the guessing IP is out of budget for anonymous requests')
  t.equal((await app.inject({ url: '/v1/regions', headers: await authHeader(app, ['read']) })).statusCode, 200, 'but a valid key still works from it')
})

t.test('a 304 costs nothing', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_IP: '3' })
  const event = await createEvent(app)
  const fresh = await app.inject({ url: `/v1/events/${event.id}` })
  t.equal(fresh.headers['ratelimit-remaining'], '2')
  const notModified = await repeat(app, { url: `/v1/events/${event.id}`, headers: { 'if-none-match': fresh.headers.etag! } }, 10)
  t.same([...new Set(notModified.map((r) => r.statusCode))], [304], 'ten 304s, none refused')
  t.same([...new Set(notModified.map((r) => r.headers['ratelimit-remaining']))], ['2'], 'and the budget says so')
  t.equal((await app.inject({ url: `/v1/events/${event.id}` })).headers['ratelimit-remaining'], '1')
})

t.test('health, readiness, the document, the docs and problem explanations are not limited', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_IP: '1' })
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/docs', '/problems/rate-limited']) {
    const responses = await repeat(app, { url }, 3)
    t.notOk(responses.some((r) => r.statusCode === 429), `${url} never answers 429`)
    t.notOk(responses.some((r) => 'ratelimit-limit' in r.headers), `${url} sends no RateLimit headers`)
  }
  t.equal((await app.inject({ url: '/v1/regions' })).statusCode, 200, 'and they did not spend the budget of /v1')
})

t.test('a limit of 0 turns it off; the window is configurable', async (t) => {
  const off = await buildTestApp(t, { RATE_LIMIT_PER_KEY: '0', RATE_LIMIT_PER_IP: '0' })
  const responses = await repeat(off, { url: '/v1/regions' }, 5)
  t.same([...new Set(responses.map((r) => r.statusCode))], [200])
  t.notOk('ratelimit-limit' in responses[0]!.headers)

  const short = await buildTestApp(t, { RATE_LIMIT_PER_IP: '1', RATE_LIMIT_WINDOW_SECONDS: '1' })
  t.equal((await short.inject({ url: '/v1/regions' })).statusCode, 200)
  const limited = await short.inject({ url: '/v1/regions' })
  t.equal(limited.statusCode, 429)
  t.equal(limited.headers['retry-after'], '1')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.equal((await short.inject({ url: '/v1/regions' })).statusCode, 200, 'a new window, a new budget')
})

t.test('the OpenAPI document declares 429 and the RateLimit headers on every /v1 operation', async (t) => {
  const app = await buildTestApp(t)
  const document = (await app.inject({ url: '/openapi.json' })).json()
  let operations = 0
  for (const [path, item] of Object.entries<Record<string, { responses: Record<string, { headers?: Record<string, unknown> }> }>>(document.paths)) {
    if (!path.startsWith('/v1/')) continue
    for (const [method, operation] of Object.entries(item)) {
      operations++
      t.ok(operation.responses['429']?.headers?.['Retry-After'], `${method} ${path}: 429 with Retry-After`)
      for (const [status, response] of Object.entries(operation.responses)) {
        t.ok(response.headers?.['RateLimit-Limit'] && response.headers['RateLimit-Remaining'] && response.headers['RateLimit-Reset'],
          `${method} ${path} ${status}: RateLimit headers`)
      }
    }
  }
  t.ok(operations > 20)
  t.ok(document.components.headers['RateLimit-Reset'])
})
