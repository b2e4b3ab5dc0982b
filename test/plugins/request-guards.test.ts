import t from 'tap'
import { authHeader, buildTestApp, createEvent } from '../helper.js'

t.test('a PATCH without a body is a 400 problem, and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const event = await createEvent(app)
  const headers = await authHeader(app)
  const res = await app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { status: 400, code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: '' }] })
  const after = await app.inject({ url: `/v1/events/${event.id}` })
  t.equal(after.json().version, 1)
})

t.test('a text/plain PATCH is a 415 problem, and changes nothing', async (t) => {
  const app = await buildTestApp(t)
  const event = await createEvent(app)
  const headers = { ...await authHeader(app), 'content-type': 'text/plain' }
  const res = await app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers, payload: 'summary' })
  t.equal(res.statusCode, 415)
  t.match(res.headers['content-type'], /^application\/problem\+json/)
  t.match(res.json().errors, [{ in: 'headers', pointer: '/content-type', message: 'must be application/merge-patch+json or application/json' }])
  const after = await app.inject({ url: `/v1/events/${event.id}` })
  t.equal(after.json().version, 1)
})

t.test('query numbers must be plain decimal integers', async (t) => {
  const app = await buildTestApp(t)
  for (const limit of ['0x10', '1e1', ' 5', '5.0']) {
    const res = await app.inject({ url: '/v1/events', query: { limit } })
    t.equal(res.statusCode, 400, `limit=${limit}`)
    t.match(res.json(), { errors: [{ in: 'querystring', pointer: '/limit' }] })
  }
  t.equal((await app.inject({ url: '/v1/events', query: { limit: '5' } })).statusCode, 200)
})

t.test('dates Postgres cannot store are a 400, in bodies and query strings', async (t) => {
  const app = await buildTestApp(t)
  const company = await app.services.companies.create({ name: 'Year Zero' }, { apiKeyId: null })
  const headers = await authHeader(app)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'RU', service: 'x', action: 'exit', date: '0000-01-01', sources: [{ url: 'https://example.com' }] }
  })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { errors: [{ in: 'body', pointer: '/date' }] })
  const list = await app.inject({ url: '/v1/events', query: { date_from: '0000-01-01' } })
  t.equal(list.statusCode, 400)
  t.match(list.json(), { errors: [{ in: 'querystring', pointer: '/date_from' }] })
})

t.test('an unknown query parameter is a 400 on every /v1 route, not only on lists', async (t) => {
  const app = await buildTestApp(t)
  const event = await createEvent(app)
  const headers = await authHeader(app)
  const requests = [
    { method: 'GET' as const, url: '/v1/regions?colour=red' },
    { method: 'GET' as const, url: `/v1/events/${event.id}?colour=red` },
    { method: 'GET' as const, url: `/v1/companies/${event.company_id}/timeline?colour=red` },
    { method: 'PATCH' as const, url: `/v1/events/${event.id}?colour=red`, headers, payload: { summary: 'x' } },
    { method: 'DELETE' as const, url: `/v1/events/${event.id}?colour=red`, headers },
    { method: 'POST' as const, url: '/v1/companies/match?colour=red', payload: { names: [{ name: 'x' }] } }
  ]
  for (const request of requests) {
    const res = await app.inject(request)
    t.equal(res.statusCode, 400, `${request.method} ${request.url}`)
    t.match(res.json(), { errors: [{ in: 'querystring', pointer: '/colour' }] })
  }
  t.equal((await app.inject({ url: `/v1/events/${event.id}` })).json().version, 1, 'the refused PATCH changed nothing')
})

t.test('a JSON body that is not UTF-8 is a 400, not stored with U+FFFD in place of its bytes', async (t) => {
  const app = await buildTestApp(t)
  const headers = { ...await authHeader(app), 'content-type': 'application/json' }
  for (const bytes of [[0xff, 0xfe], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
    const payload = Buffer.concat([Buffer.from('{"name":"Bad '), Buffer.from(bytes), Buffer.from('"}')])
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload })
    t.equal(res.statusCode, 400, Buffer.from(bytes).toString('hex'))
    t.match(res.json(), { code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: '' }] })
  }
  const list = await app.inject({ url: '/v1/companies', query: { q: 'Bad' } })
  t.same(list.json().data, [], 'nothing was stored')
})

t.test('JSON nested thousands of levels deep is judged by the schema, not refused as malformed', async (t) => {
  const app = await buildTestApp(t)
  const headers = { ...await authHeader(app), 'content-type': 'application/json' }
  const payload = `{"name":${'['.repeat(10_000)}${']'.repeat(10_000)}}`
  const res = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload })
  t.equal(res.statusCode, 400)
  t.match(res.json(), { code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: '/name', message: 'must be string' }] })
})

t.test('routes that read no query string ignore what it holds', async (t) => {
  const app = await buildTestApp(t)
  for (const url of ['/healthz?x=%00', '/openapi.json?limit=%ED%A0%80']) {
    t.equal((await app.inject({ url })).statusCode, 200, url)
  }
})
