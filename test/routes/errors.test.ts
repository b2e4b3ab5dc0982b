import { Writable } from 'node:stream'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { freshDatabase } from '../database.js'
import { authHeader, buildTestApp, createCompany, createEvent, testConfig } from '../helper.js'

type Res = Awaited<ReturnType<App['inject']>>

/** Asserts a problem+json response of this status and kind, whose request_id is the X-Request-Id header. */
function assertProblem (t: Test, res: Res, status: number, slug: string) {
  t.equal(res.statusCode, status, `status ${status}`)
  t.match(res.headers['content-type'], /^application\/problem\+json; charset=utf-8/)
  const body = res.json()
  t.match(body, { type: `/problems/${slug}`, title: String, status, detail: String, code: String })
  t.equal(body.request_id, res.headers['x-request-id'], 'request_id is the X-Request-Id header')
  return body
}

t.test('an unknown route is a 404 problem naming the path', async (t) => {
  const app = await buildTestApp(t)
  for (const method of ['GET', 'POST', 'DELETE'] as const) {
    const res = await app.inject({ method, url: '/v1/nope/deeper?x=1' })
    const body = assertProblem(t, res, 404, 'not-found')
    t.equal(body.instance, '/v1/nope/deeper', `${method}: instance is the path, without the query`)
  }
  t.equal((await app.inject({ url: '/v2/events' })).statusCode, 404, 'no other API version')
})

t.test('bodies that are not well-formed JSON are 400 problems', async (t) => {
  const app = await buildTestApp(t)
  const headers = { ...await authHeader(app), 'content-type': 'application/json' }
  for (const [why, payload] of [['malformed', '{"name": "Amazon",'], ['not JSON at all', 'name=Amazon'], ['trailing garbage', '{"name":"Amazon"} x']]) {
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload })
    assertProblem(t, res, 400, 'validation-error')
    t.comment(why)
  }
  const empty = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: '' })
  assertProblem(t, empty, 400, 'validation-error')
  const emptyEvent = await app.inject({ method: 'POST', url: '/v1/events', headers, payload: '' })
  assertProblem(t, emptyEvent, 400, 'validation-error')
  const list = await app.inject({ url: '/v1/companies' })
  t.same(list.json().data, [], 'nothing was created')
})

t.test('a body over the limit is a 413 problem', async (t) => {
  t.test('the default limit is 1 MiB', async (t) => {
    const app = await buildTestApp(t)
    const headers = { ...await authHeader(app), 'content-type': 'application/json' }
    const payload = JSON.stringify({ name: 'Big', sector: 'x'.repeat(1024 * 1024) })
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload })
    assertProblem(t, res, 413, 'payload-too-large')
    const fits = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: JSON.stringify({ name: 'Small', aliases: ['a'.repeat(200)] }) })
    t.equal(fits.statusCode, 201, 'a small body passes')
  })
  t.test('BODY_LIMIT_BYTES lowers it', async (t) => {
    const app = await buildTestApp(t, { BODY_LIMIT_BYTES: '2048' })
    const headers = { ...await authHeader(app), 'content-type': 'application/json' }
    const company = await createCompany(app)
    const payload = JSON.stringify({ company_id: company.id, region: 'RU', service: 'Retail', action: 'exit', date: '2022-03-08', summary: 'x'.repeat(1900), sources: [{ url: 'https://example.com/a' }] })
    t.ok(payload.length > 2048)
    assertProblem(t, await app.inject({ method: 'POST', url: '/v1/events', headers, payload }), 413, 'payload-too-large')
    const event = await createEvent(app, { company_id: company.id })
    const patch = await app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers: { ...headers, 'content-type': 'application/merge-patch+json' }, payload: JSON.stringify({ summary: 'y'.repeat(2100) }) })
    assertProblem(t, patch, 413, 'payload-too-large')
    t.equal((await app.inject({ url: `/v1/events/${event.id}` })).json().version, 1, 'the event is unchanged')
  })
})

t.test('bodies that are not JSON are 415 problems', async (t) => {
  const app = await buildTestApp(t)
  const auth = await authHeader(app)
  const bodies: Array<[string, string]> = [
    ['text/plain', 'Amazon'],
    ['application/x-www-form-urlencoded', 'name=Amazon'],
    ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="name"\r\n\r\nAmazon\r\n--x--\r\n'],
    ['application/xml', '<company><name>Amazon</name></company>']
  ]
  for (const [type, payload] of bodies) {
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: { ...auth, 'content-type': type }, payload })
    assertProblem(t, res, 415, 'unsupported-media-type')
    t.match(res.json(), {
      detail: `Content-Type ${JSON.stringify(type)} is not accepted here: send application/json`,
      errors: [{ in: 'headers', pointer: '/content-type', message: 'must be application/json' }]
    }, 'the problem names the header and what it must be')
    t.comment(type)
  }
  t.same((await app.inject({ url: '/v1/companies' })).json().data, [], 'nothing was created')
})

t.test('a 500 carries no stack trace and no SQL; the log has the details under request_id', async (t) => {
  // An app of our own, to read its log.
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { database, drop } = await freshDatabase()
  const app = await buildApp(testConfig({ LOG_LEVEL: 'info' }), { database, logger: { level: 'info', stream } })
  t.teardown(async () => {
    await app.close()
    await drop()
  })
  const company = await createCompany(app)
  // Break the database behind the app's back, so that creating an event fails in a way no code expects.
  await app.db.execute(sql`DROP FUNCTION search_vector(text)`)
  const headers = await authHeader(app)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'RU', service: 'Retail', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://example.com/a' }] }
  })
  const body = assertProblem(t, res, 500, 'internal-error')
  t.equal(body.detail, 'Internal Server Error')
  t.equal(body.instance, '/v1/events')
  for (const leak of ['at ', 'SELECT', 'select', 'search_vector', 'UPDATE', 'INSERT', 'events_', '.ts:', '.js:', 'node_modules']) {
    t.notOk(res.body.includes(leak), `no '${leak}' in the body`)
  }
  t.same((await app.inject({ url: '/v1/events' })).json().data, [], 'the failed write left nothing behind')
  const explained = await app.inject({ url: body.type })
  t.equal(explained.statusCode, 200, 'the 500 type is explained too')

  const logged = lines.map((line) => JSON.parse(line) as { level: number, reqId?: string, err?: { message?: string, stack?: string }, req?: { headers?: Record<string, string> } })
  const failure = logged.find((entry) => entry.level >= 50 && entry.reqId === body.request_id)
  t.ok(failure, 'an error is logged under the request id')
  t.match(failure?.err?.message ?? failure?.err?.stack ?? '', /search_vector/, 'with the database error')
  t.notOk(lines.some((line) => line.includes(headers.authorization.slice('Bearer '.length))), 'the API key never reaches the log')
})

t.test('X-Request-Id is on every response; a well-formed one is echoed, a malformed one replaced', async (t) => {
  const app = await buildTestApp(t)
  const generated = new Set<string>()
  for (const url of ['/healthz', '/v1/events', '/v1/nope', '/openapi.json', '/problems/not-found']) {
    const res = await app.inject({ url })
    t.match(res.headers['x-request-id'], /^[A-Za-z0-9._:-]{1,128}$/, url)
    generated.add(String(res.headers['x-request-id']))
  }
  t.equal(generated.size, 5, 'each request gets its own id')
  const write = await app.inject({ method: 'POST', url: '/v1/companies', payload: { name: 'x' } })
  t.ok(write.headers['x-request-id'], 'a 401 has one too')

  for (const given of ['abc-123', '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', 'trace:span.1_2', 'x'.repeat(128)]) {
    const res = await app.inject({ url: '/v1/nope', headers: { 'x-request-id': given } })
    t.equal(res.headers['x-request-id'], given, `echoed: ${given.slice(0, 40)}`)
    t.equal(res.json().request_id, given)
  }
  for (const given of ['x'.repeat(300), 'has spaces in it', 'semi;colon', '<script>', '', 'x'.repeat(129)]) {
    const res = await app.inject({ url: '/v1/nope', headers: { 'x-request-id': given } })
    const id = String(res.headers['x-request-id'])
    t.not(id, given, `replaced: ${given.slice(0, 40)}`)
    t.match(id, /^[A-Za-z0-9._:-]{1,128}$/)
    t.equal(res.json().request_id, id)
  }
})

t.test('large JSON responses are compressed; JSON says charset=utf-8', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Amazon', aliases: ['Амазон'] })
  for (let i = 0; i < 6; i++) {
    await createEvent(app, { company_id: company.id, summary: `Amazon arrête les livraisons en Russie — ${i} ${'détail '.repeat(20)}` })
  }
  const plain = await app.inject({ url: '/v1/events' })
  t.equal(plain.statusCode, 200)
  t.equal(plain.headers['content-type'], 'application/json; charset=utf-8')
  t.notOk(plain.headers['content-encoding'], 'not compressed unless asked')
  t.ok(plain.rawPayload.length > 1024, 'the response is over 1 KB')
  const expected = plain.json()
  t.equal(expected.data.length, 6)

  const decoders = { gzip: gunzipSync, br: brotliDecompressSync }
  for (const [encoding, decode] of Object.entries(decoders)) {
    const res = await app.inject({ url: '/v1/events', headers: { 'accept-encoding': encoding } })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-encoding'], encoding)
    t.match(res.headers.vary, /accept-encoding/i)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    t.ok(res.rawPayload.length < plain.rawPayload.length, `${encoding} is smaller`)
    t.same(JSON.parse(decode(res.rawPayload).toString('utf8')), expected, `${encoding} decodes to the same JSON`)
  }
  const either = await app.inject({ url: '/v1/events', headers: { 'accept-encoding': 'gzip, deflate, br' } })
  t.match(either.headers['content-encoding'], /^(br|gzip)$/)

  const small = await app.inject({ url: '/healthz', headers: { 'accept-encoding': 'gzip' } })
  t.notOk(small.headers['content-encoding'], 'a tiny response is sent as is')
  t.equal(small.headers['content-type'], 'application/json; charset=utf-8')
})

t.test('every problem type the API emits is explained at its URI', async (t) => {
  const app = await buildTestApp(t, { BODY_LIMIT_BYTES: '2048' })
  const auth = await authHeader(app)
  const readOnly = await authHeader(app, ['read'])
  const company = await createCompany(app)
  const event = await createEvent(app, { company_id: company.id })
  const responses = await Promise.all([
    app.inject({ url: '/v1/nope' }),
    app.inject({ url: '/v1/events', query: { nope: '1' } }),
    app.inject({ method: 'POST', url: '/v1/companies', payload: { name: 'x' } }),
    app.inject({ method: 'POST', url: '/v1/companies', headers: readOnly, payload: { name: 'x' } }),
    app.inject({ method: 'POST', url: '/v1/companies', headers: { ...auth, 'content-type': 'text/plain' }, payload: 'x' }),
    app.inject({ method: 'POST', url: '/v1/companies', headers: auth, payload: { name: 'x'.repeat(3000) } }),
    app.inject({ method: 'DELETE', url: `/v1/companies/${company.id}`, headers: auth }),
    app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers: { ...auth, 'if-match': '"99"' }, payload: { summary: 'x' } })
  ])
  const types = new Set(responses.map((res) => res.json().type as string))
  t.same([...types].sort(), [
    '/problems/conflict', '/problems/forbidden', '/problems/not-found', '/problems/payload-too-large',
    '/problems/precondition-failed', '/problems/unauthorized', '/problems/unsupported-media-type', '/problems/validation-error'
  ])
  for (const type of types) {
    const res = await app.inject({ url: type })
    t.equal(res.statusCode, 200, type)
    t.match(res.headers['content-type'], /^text\/plain/)
  }
})
