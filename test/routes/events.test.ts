import { randomUUID } from 'node:crypto'
import { inArray } from 'drizzle-orm'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import { sources } from '../../src/db/schema.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/

/** Asserts a status; the body shows in the diagnostics when it differs. */
function assertStatus (t: Test, res: LightMyRequestResponse, status: number, message = `status ${status}`) {
  t.equal(res.statusCode, status, message, { body: res.body })
}

/** Asserts an RFC 9457 problem of this status and returns its body. */
function assertProblem (t: Test, res: LightMyRequestResponse, status: number, instance?: string) {
  assertStatus(t, res, status)
  t.match(res.headers['content-type'], /^application\/problem\+json; charset=utf-8$/, 'problem content type')
  const body = res.json()
  t.match(body, {
    type: /^\/problems\/[a-z-]+$/,
    title: String,
    status,
    detail: String,
    instance: String,
    code: /^[A-Z_]+$/,
    request_id: String
  }, 'problem shape')
  t.ok(body.request_id.length > 0, 'request_id is set')
  t.equal(body.request_id, res.headers['x-request-id'], 'request_id matches X-Request-Id')
  if (instance !== undefined) t.equal(body.instance, instance, 'instance is the request path')
  return body
}

function assertEventShape (t: Test, event: Record<string, unknown>) {
  t.match(event.id, UUID_V7, 'id is a UUIDv7')
  t.match(event.created_at, RFC3339_UTC, 'created_at is an RFC 3339 UTC timestamp')
  t.match(event.updated_at, RFC3339_UTC, 'updated_at is an RFC 3339 UTC timestamp')
  t.same(Object.keys(event).sort(), [
    'action', 'company', 'company_id', 'created_at', 'date', 'date_precision', 'effective_date', 'external_id',
    'id', 'region', 'service', 'source_count', 'sources', 'summary', 'updated_at', 'version'
  ], 'exactly the Event fields')
}

async function post (app: App, payload: unknown, headers: Record<string, string>) {
  return app.inject({ method: 'POST', url: '/v1/events', headers, payload: payload as Record<string, unknown> })
}

const minimal = (companyId: string, extra: Record<string, unknown> = {}) => ({
  company_id: companyId,
  region: 'RU',
  service: 'Retail shipping',
  action: 'suspend',
  date: '2022-03-08',
  sources: [{ url: `https://news.example.com/${randomUUID()}` }],
  ...extra
})

t.test('POST /v1/events creates an event with the full shape', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Amazon' })
  const headers = await authHeader(app)
  const res = await post(app, {
    company_id: company.id,
    region: 'ua-43',
    service: 'Prime Video',
    action: 'suspend',
    date: '2022-03-08',
    sources: [{ url: 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine' }]
  }, headers)
  assertStatus(t, res, 201)
  t.match(res.headers['content-type'], /^application\/json; charset=utf-8/)
  t.ok(res.headers['x-request-id'], 'X-Request-Id on a 201')
  const event = res.json()
  assertEventShape(t, event)
  t.equal(res.headers.location, `/v1/events/${event.id}`, 'Location names the new event')
  t.equal(res.headers.etag, '"1"', 'ETag derived from version 1')
  t.same(event, {
    id: event.id,
    company_id: company.id,
    company: { id: company.id, name: 'Amazon' },
    region: 'UA-43',
    service: 'Prime Video',
    action: 'suspend',
    date: '2022-03-08',
    date_precision: 'day',
    effective_date: null,
    summary: null,
    sources: [{
      url: 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine',
      publisher: null,
      title: null,
      published_date: null,
      language: null,
      quote: null,
      kind: null,
      archived_url: null,
      license: null
    }],
    source_count: 1,
    external_id: null,
    created_at: event.created_at,
    updated_at: event.updated_at,
    version: 1
  })
  t.equal(event.created_at, event.updated_at, 'a new event was updated when it was created')

  // Every optional field given is stored and returned as given.
  const full = await post(app, {
    company_id: company.id,
    region: 'by',
    service: 'AWS new accounts',
    action: 'pause_new_business',
    date: '2022-03-01',
    date_precision: 'month',
    effective_date: '2022-04-15',
    summary: 'No new AWS customers from Belarus.',
    sources: [
      { url: 'https://example.org/one', publisher: 'Amazon', title: 'Update', published_date: '2022-03-08', language: 'en', quote: 'We stopped.', kind: null, archived_url: null, license: null },
      { url: 'https://example.org/two' }
    ],
    external_id: 'newsroom-0042'
  }, headers)
  assertStatus(t, full, 201)
  t.match(full.json(), {
    region: 'BY',
    action: 'pause_new_business',
    date: '2022-03-01',
    date_precision: 'month',
    effective_date: '2022-04-15',
    summary: 'No new AWS customers from Belarus.',
    external_id: 'newsroom-0042',
    version: 1
  })
  t.same(full.json().sources, [
    { url: 'https://example.org/one', publisher: 'Amazon', title: 'Update', published_date: '2022-03-08', language: 'en', quote: 'We stopped.', kind: null, archived_url: null, license: null },
    { url: 'https://example.org/two', publisher: null, title: null, published_date: null, language: null, quote: null, kind: null, archived_url: null, license: null }
  ], 'sources in input order, omitted fields null')

  const got = await app.inject({ url: `/v1/events/${full.json().id}` })
  t.equal(got.statusCode, 200)
  t.same(got.json(), full.json(), 'GET returns what POST returned')

  // Every action of the taxonomy is accepted.
  for (const action of ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume']) {
    const res = await post(app, minimal(company.id, { action }), headers)
    assertStatus(t, res, 201, `action ${action}`)
    t.equal(res.json().action, action)
  }
})

t.test('a create searches its own sources at once, and a title it gives a cited source in every event citing it', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const headers = await authHeader(app)
  const search = async (q: string) =>
    ((await app.inject({ url: '/v1/events', query: { q } })).json().data as Array<{ id: string }>).map((e) => e.id).sort()

  const first = await post(app, minimal(company.id, { sources: [{ url: 'https://example.com/shared', quote: 'opening remarks' }] }), headers)
  assertStatus(t, first, 201)
  t.same(await search('opening'), [first.json().id], 'the quote of a new event is searched')
  t.same(await search('zanzibar'), [])

  const second = await post(app, minimal(company.id, {
    service: 'Prime Video',
    summary: 'Quokka deliveries stop',
    sources: [{ url: 'https://example.com/shared', title: 'Zanzibar withdrawal notice', quote: 'closing remarks' }, { url: 'https://example.com/own', title: 'Pelican memo' }]
  }), headers)
  assertStatus(t, second, 201)
  t.same(await search('zanzibar'), [first.json().id, second.json().id].sort(), 'the title is searched in both events citing the source')
  t.same(await search('closing'), [second.json().id])
  t.same(await search('pelican'), [second.json().id])
  t.same(await search('quokka'), [second.json().id], 'and the summary')
  t.same(await search('prime'), [second.json().id], 'and the service')
  t.same(await search('opening'), [first.json().id], 'a quote stays with its event')
})

t.test('sources are stored once per normalised URL and gain the fields they lacked', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const headers = await authHeader(app)

  const first = await post(app, minimal(company.id, {
    sources: [{ url: 'HTTPS://Example.COM/a#x', publisher: 'Example', quote: 'first quote', kind: null, archived_url: null, license: null }]
  }), headers)
  assertStatus(t, first, 201)
  t.same(first.json().sources, [
    { url: 'https://example.com/a', publisher: 'Example', title: null, published_date: null, language: null, quote: 'first quote', kind: null, archived_url: null, license: null }
  ], 'scheme and host lower-cased, fragment dropped')

  // A second event citing the same document, with a title the stored source lacks, fills it in.
  const second = await post(app, minimal(company.id, {
    service: 'Prime Video',
    sources: [{ url: 'https://example.com/a', title: 'The title', language: 'en', quote: 'second quote' }]
  }), headers)
  assertStatus(t, second, 201)
  t.same(second.json().sources, [
    { url: 'https://example.com/a', publisher: 'Example', title: 'The title', published_date: null, language: 'en', quote: 'second quote', kind: null, archived_url: null, license: null }
  ], 'the second event sees the stored publisher and its own title, language and quote')

  const again = await app.inject({ url: `/v1/events/${first.json().id}` })
  t.equal(again.statusCode, 200)
  t.same(again.json().sources, [
    { url: 'https://example.com/a', publisher: 'Example', title: 'The title', published_date: null, language: 'en', quote: 'first quote', kind: null, archived_url: null, license: null }
  ], 'the first event sees the title the second supplied, and keeps its own quote')

  const rows = await app.db.select().from(sources).where(inArray(sources.url, ['https://example.com/a', 'HTTPS://Example.COM/a#x']))
  t.equal(rows.length, 1, 'one source row for both events')

  // A source cited again keeps the fields it has and gains only the ones it lacked.
  const third = await post(app, minimal(company.id, {
    service: 'Kindle',
    sources: [{ url: 'https://EXAMPLE.com/a', publisher: 'Someone else', title: 'Another title', published_date: '2022-03-08' }]
  }), headers)
  assertStatus(t, third, 201)
  t.same(third.json().sources, [
    { url: 'https://example.com/a', publisher: 'Example', title: 'The title', published_date: '2022-03-08', language: 'en', quote: null, kind: null, archived_url: null, license: null }
  ], 'publisher and title are kept, published_date is gained')
  t.same((await app.inject({ url: `/v1/events/${first.json().id}` })).json().sources, [
    { url: 'https://example.com/a', publisher: 'Example', title: 'The title', published_date: '2022-03-08', language: 'en', quote: 'first quote', kind: null, archived_url: null, license: null }
  ], 'citing a source again does not rewrite it under the events that already cite it')

  // Path and query are not normalised away: a different path is a different document.
  const other = await post(app, minimal(company.id, {
    sources: [{ url: 'https://example.com/A' }, { url: 'https://example.com/a?page=2' }]
  }), headers)
  assertStatus(t, other, 201)
  t.same(other.json().sources.map((s: { url: string }) => s.url), ['https://example.com/A', 'https://example.com/a?page=2'])
})

t.test('two sources of one event naming the same document are refused', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const headers = await authHeader(app)
  const res = await post(app, minimal(company.id, {
    sources: [{ url: 'https://example.com/doc#one' }, { url: 'HTTPS://EXAMPLE.com/doc' }]
  }), headers)
  const body = assertProblem(t, res, 400, '/v1/events')
  t.equal(body.type, '/problems/validation-error')
  t.same(body.errors.map((e: { pointer: string }) => e.pointer), ['/sources/1/url'])
  t.equal(body.errors[0].in, 'body')

  const list = await app.inject({ url: '/v1/events' })
  t.same(list.json().data, [], 'nothing was stored')
})

t.test('external_id is unique among live events', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const headers = await authHeader(app)
  const first = await post(app, minimal(company.id, { external_id: 'ext-1' }), headers)
  assertStatus(t, first, 201)

  const clash = await post(app, minimal(company.id, { external_id: 'ext-1' }), headers)
  const body = assertProblem(t, clash, 409, '/v1/events')
  t.equal(body.code, 'APP_EVENT_CONFLICT')
  t.equal(body.type, '/problems/conflict')

  // A patch onto a taken external_id conflicts too.
  const other = await post(app, minimal(company.id, { external_id: 'ext-2' }), headers)
  t.equal(other.statusCode, 201)
  const patchClash = await app.inject({
    method: 'PATCH', url: `/v1/events/${other.json().id}`, headers, payload: { external_id: 'ext-1' }
  })
  t.equal(assertProblem(t, patchClash, 409).code, 'APP_EVENT_CONFLICT')

  const deleted = await app.inject({ method: 'DELETE', url: `/v1/events/${first.json().id}`, headers })
  t.equal(deleted.statusCode, 204)
  const reused = await post(app, minimal(company.id, { external_id: 'ext-1' }), headers)
  assertStatus(t, reused, 201, 'external_id reusable after delete')
  t.equal(reused.json().external_id, 'ext-1')

  // Events without external_id never conflict with one another.
  const a = await post(app, minimal(company.id), headers)
  const b = await post(app, minimal(company.id, { external_id: null }), headers)
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201)
})

t.test('GET /v1/events/{id}', async (t) => {
  const app = await buildTestApp(t)
  const event = await createEvent(app)

  const res = await app.inject({ url: `/v1/events/${event.id}` })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.etag, '"1"')
  t.ok(res.headers['x-request-id'], 'X-Request-Id on a 200')
  t.match(res.headers['content-type'], /^application\/json; charset=utf-8/)
  assertEventShape(t, res.json())
  t.equal(res.json().id, event.id)

  const notModified = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'if-none-match': '"1"' } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.body, '', '304 has no body')
  t.equal(notModified.headers.etag, '"1"')
  t.ok(notModified.headers['x-request-id'], 'X-Request-Id on a 304')

  const star = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'if-none-match': '*' } })
  t.equal(star.statusCode, 304)

  const stale = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'if-none-match': '"7"' } })
  t.equal(stale.statusCode, 200, 'another version answers 200')
  t.equal(stale.json().id, event.id)

  const unknownId = randomUUID()
  const unknown = await app.inject({ url: `/v1/events/${unknownId}` })
  t.equal(assertProblem(t, unknown, 404, `/v1/events/${unknownId}`).code, 'APP_EVENT_NOT_FOUND')
  t.equal(unknown.json().type, '/problems/not-found')

  // An archived copy's scheme is case-insensitive, as the schema's pattern says; the database's check must agree.
  const archived = await app.inject({
    method: 'PATCH',
    url: `/v1/events/${event.id}`,
    headers: await authHeader(app),
    payload: { sources: [{ url: 'https://example.org/archived', archived_url: 'HTTPS://web.archive.org/web/2022/x' }] }
  })
  t.equal(archived.statusCode, 200, archived.body)
  t.equal(archived.json().sources[0].archived_url, 'HTTPS://web.archive.org/web/2022/x')

  // The id pattern takes upper-case hex: the same event, with its sources.
  const upper = await app.inject({ url: `/v1/events/${event.id.toUpperCase()}` })
  t.equal(upper.statusCode, 200, 'an upper-case id')
  t.same(upper.json(), (await app.inject({ url: `/v1/events/${event.id}` })).json())

  for (const bad of ['abc', `urn:uuid:${randomUUID()}`, '12345678-1234-1234-1234-1234567890ab0']) {
    const res = await app.inject({ url: `/v1/events/${encodeURIComponent(bad)}` })
    const body = assertProblem(t, res, 400)
    t.equal(body.type, '/problems/validation-error', `id ${bad}`)
    t.match(body.errors, [{ in: 'params', pointer: '/id' }], `id ${bad} names /id`)
  }
})

t.test('PATCH applies a JSON Merge Patch', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app, { name: 'Yandex' })
  const created = await post(app, minimal(company.id, {
    region: 'RU',
    service: 'Search',
    action: 'continue',
    date: '2022-03-09',
    effective_date: '2022-03-10',
    summary: 'Keeps trading.',
    external_id: 'yandex-1',
    sources: [{ url: 'https://example.com/s1', title: 'One' }, { url: 'https://example.com/s2' }]
  }), headers)
  assertStatus(t, created, 201)
  const original = created.json()
  const url = `/v1/events/${original.id}`
  const patch = (payload: unknown, contentType = 'application/merge-patch+json', extra: Record<string, string> = {}) =>
    app.inject({
      method: 'PATCH',
      url,
      headers: { ...headers, 'content-type': contentType, ...extra },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
    })

  const res = await patch({ action: 'scale_back', region: 'ru-mow' })
  assertStatus(t, res, 200)
  t.equal(res.headers.etag, '"2"')
  const patched = res.json()
  assertEventShape(t, patched)
  t.same(patched, {
    ...original,
    action: 'scale_back',
    region: 'RU-MOW',
    version: 2,
    updated_at: patched.updated_at
  }, 'only the given fields change; region upper-cased')
  t.ok(patched.updated_at >= original.updated_at, 'updated_at moves forward')
  t.equal(patched.created_at, original.created_at, 'created_at is kept')

  const asJson = await patch({ service: 'Search and ads' }, 'application/json')
  assertStatus(t, asJson, 200)
  t.match(asJson.json(), { service: 'Search and ads', action: 'scale_back', version: 3 })

  // null clears nullable fields.
  const cleared = await patch({ summary: null, effective_date: null, external_id: null })
  assertStatus(t, cleared, 200)
  t.match(cleared.json(), { summary: null, effective_date: null, external_id: null, service: 'Search and ads', version: 4 })
  const reread = await app.inject({ url })
  t.match(reread.json(), { summary: null, effective_date: null, external_id: null, version: 4 }, 'the clear is stored')

  // null on a required field is refused, and nothing changes.
  for (const field of ['region', 'service', 'action', 'date', 'company_id', 'sources']) {
    const res = await patch({ [field]: null })
    const body = assertProblem(t, res, 400, url)
    t.same(body.errors.map((e: { pointer: string }) => e.pointer), [`/${field}`], `null ${field} names /${field}`)
  }
  t.equal((await app.inject({ url })).json().version, 4, 'refused patches leave the version')

  // A patch that changes nothing keeps the version.
  const same = await patch({ service: 'Search and ads', region: 'RU-MOW', summary: null })
  assertStatus(t, same, 200)
  t.equal(same.json().version, 4)
  t.equal(same.headers.etag, '"4"')
  t.equal(same.json().updated_at, cleared.json().updated_at, 'a no-op patch keeps updated_at')
  const empty = await patch({})
  assertStatus(t, empty, 200)
  t.equal(empty.json().version, 4, 'an empty patch keeps the version')

  // sources are replaced whole.
  const replaced = await patch({ sources: [{ url: 'https://example.com/s3', publisher: 'Reuters' }] })
  assertStatus(t, replaced, 200)
  t.same(replaced.json().sources, [
    { url: 'https://example.com/s3', publisher: 'Reuters', title: null, published_date: null, language: null, quote: null, kind: null, archived_url: null, license: null }
  ])
  t.equal(replaced.json().version, 5)
  t.same((await app.inject({ url })).json().sources.map((s: { url: string }) => s.url), ['https://example.com/s3'])
  const dupes = await patch({ sources: [{ url: 'https://example.com/x' }, { url: 'https://EXAMPLE.com/x#y' }] })
  t.same(assertProblem(t, dupes, 400).errors.map((e: { pointer: string }) => e.pointer), ['/sources/1/url'])

  // Another company: the embedded company follows.
  const other = await createCompany(app, { name: 'Ozon' })
  const moved = await patch({ company_id: other.id })
  assertStatus(t, moved, 200)
  t.match(moved.json(), { company_id: other.id, company: { id: other.id, name: 'Ozon' }, version: 6 })
  t.same((await app.inject({ url })).json().company, { id: other.id, name: 'Ozon' })

  // An unknown or deleted company is refused.
  const unknownCompany = await patch({ company_id: randomUUID() })
  t.same(assertProblem(t, unknownCompany, 400).errors.map((e: { pointer: string }) => e.pointer), ['/company_id'])
  const gone = await createCompany(app)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/companies/${gone.id}`, headers })).statusCode, 204)
  const deletedCompany = await patch({ company_id: gone.id })
  t.same(assertProblem(t, deletedCompany, 400).errors.map((e: { pointer: string }) => e.pointer), ['/company_id'])

  // Precision rules apply against the stored date too.
  const precision = await patch({ date_precision: 'month' })
  t.same(assertProblem(t, precision, 400).errors.map((e: { pointer: string }) => e.pointer), ['/date'])
  const monthly = await patch({ date_precision: 'month', date: '2022-03-01' })
  assertStatus(t, monthly, 200)
  t.match(monthly.json(), { date: '2022-03-01', date_precision: 'month', version: 7 })

  // Bodies the contract does not accept for PATCH.
  const unknownField = await patch({ colour: 'red' })
  t.same(assertProblem(t, unknownField, 400).errors.map((e: { pointer: string }) => e.pointer), ['/colour'])
  const plain = await patch('action=exit', 'text/plain')
  t.equal(assertProblem(t, plain, 415).status, 415)
  const malformed = await patch('{"action":', 'application/merge-patch+json')
  assertProblem(t, malformed, 400)
  t.equal((await app.inject({ url })).json().version, 7, 'refused patches change nothing')

  const missing = await app.inject({
    method: 'PATCH', url: `/v1/events/${randomUUID()}`, headers, payload: { action: 'exit' }
  })
  t.equal(assertProblem(t, missing, 404).code, 'APP_EVENT_NOT_FOUND')
  const badId = await app.inject({ method: 'PATCH', url: '/v1/events/abc', headers, payload: { action: 'exit' } })
  assertProblem(t, badId, 400)
})

t.test('PATCH keeps the search document to what the event now says', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const walrus = await createCompany(app, { name: 'Walrus Holdings' })
  const heron = await createCompany(app, { name: 'Heron Group' })
  const search = async (q: string) =>
    ((await app.inject({ url: '/v1/events', query: { q } })).json().data as Array<{ id: string }>).map((e) => e.id).sort()
  const other = await post(app, minimal(walrus.id, { service: 'Cargo', sources: [{ url: 'https://example.com/shared-memo', quote: 'lighthouse' }] }), headers)
  const event = await post(app, minimal(walrus.id, { summary: 'Marmalade exports stop', sources: [{ url: 'https://example.com/first', quote: 'porcupine' }] }), headers)
  assertStatus(t, event, 201)
  const id = event.json().id as string
  const patch = async (payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'PATCH', url: `/v1/events/${id}`, headers, payload })
    assertStatus(t, res, 200)
  }

  await patch({ region: 'BY' })
  t.same(await search('marmalade'), [id], 'a change outside the document keeps it')
  t.same(await search('porcupine'), [id])
  await patch({ summary: 'Tangerine imports resume' })
  t.same(await search('marmalade'), [], 'the old summary is gone')
  t.same(await search('tangerine'), [id])
  t.same(await search('porcupine'), [id], 'the sources stay in it')
  await patch({ summary: null, service: 'Snorkel rentals' })
  t.same(await search('tangerine'), [])
  t.same(await search('snorkel'), [id])
  await patch({ company_id: heron.id })
  t.same(await search('heron'), [id], "the new company's name")
  t.same(await search('walrus'), [other.json().id], 'and not the old one')
  await patch({ sources: [{ url: 'https://example.com/shared-memo', title: 'Albatross bulletin', quote: 'meridian' }] })
  t.same(await search('porcupine'), [], 'the old quote is gone')
  t.same(await search('meridian'), [id])
  t.same(await search('albatross'), [id, other.json().id].sort(), 'a title given to a shared source finds the other event too')
  t.same(await search('lighthouse'), [other.json().id], "the other event's quote stays its own")
  t.same(await search('snorkel'), [id], 'the service stays')
})

t.test('PATCH honours If-Match', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const event = await createEvent(app)
  const url = `/v1/events/${event.id}`
  const patch = (payload: Record<string, unknown>, ifMatch?: string) => app.inject({
    method: 'PATCH', url, payload, headers: { ...headers, ...(ifMatch === undefined ? {} : { 'if-match': ifMatch }) }
  })

  const current = await patch({ action: 'suspend' }, '"1"')
  assertStatus(t, current, 200)
  t.equal(current.json().version, 2)
  t.equal(current.headers.etag, '"2"')

  const stale = await patch({ action: 'resume' }, '"1"')
  const body = assertProblem(t, stale, 412, url)
  t.equal(body.code, 'APP_PRECONDITION_FAILED')
  t.equal(body.type, '/problems/precondition-failed')
  t.match((await app.inject({ url })).json(), { action: 'suspend', version: 2 }, 'a stale patch is not applied')

  const star = await patch({ action: 'resume' }, '*')
  assertStatus(t, star, 200)
  t.match(star.json(), { action: 'resume', version: 3 })

  const fromGet = await app.inject({ url })
  const withEtag = await patch({ service: 'Cloud' }, fromGet.headers.etag as string)
  t.equal(withEtag.statusCode, 200, 'the ETag of a GET is a valid If-Match')
  t.equal(withEtag.json().version, 4)
})

t.test('DELETE soft-deletes an event', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const kept = await createEvent(app, { company_id: company.id, service: 'Kept' })
  const doomed = await createEvent(app, { company_id: company.id, service: 'Doomed' })
  const url = `/v1/events/${doomed.id}`

  const stale = await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"9"' } })
  t.equal(assertProblem(t, stale, 412, url).code, 'APP_PRECONDITION_FAILED')
  t.equal((await app.inject({ url })).statusCode, 200, 'a stale delete leaves the event')

  const res = await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"1"' } })
  t.equal(res.statusCode, 204)
  t.equal(res.body, '', '204 has no body')
  t.ok(res.headers['x-request-id'], 'X-Request-Id on a 204')

  const get = await app.inject({ url })
  t.equal(assertProblem(t, get, 404, url).code, 'APP_EVENT_NOT_FOUND')
  const again = await app.inject({ method: 'DELETE', url, headers })
  t.equal(assertProblem(t, again, 404).code, 'APP_EVENT_NOT_FOUND')
  const patch = await app.inject({ method: 'PATCH', url, headers, payload: { action: 'exit' } })
  t.equal(assertProblem(t, patch, 404).code, 'APP_EVENT_NOT_FOUND')

  const list = await app.inject({ url: '/v1/events' })
  t.equal(list.statusCode, 200)
  t.same(list.json().data.map((e: { id: string }) => e.id), [kept.id], 'the deleted event is gone from the list')
  const byCompany = await app.inject({ url: `/v1/events?company_id=${company.id}` })
  t.same(byCompany.json().data.map((e: { id: string }) => e.id), [kept.id])

  const unknown = await app.inject({ method: 'DELETE', url: `/v1/events/${randomUUID()}`, headers })
  assertProblem(t, unknown, 404)

  // Without If-Match the delete is unconditional.
  const plain = await app.inject({ method: 'DELETE', url: `/v1/events/${kept.id}`, headers })
  t.equal(plain.statusCode, 204)
  t.same((await app.inject({ url: '/v1/events' })).json().data, [])
})

t.test('writes need a bearer key with the write scope', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const event = await createEvent(app, { company_id: company.id })
  const url = `/v1/events/${event.id}`
  const writes = [
    { method: 'POST' as const, url: '/v1/events', payload: minimal(company.id) },
    { method: 'PATCH' as const, url, payload: { action: 'resume' } },
    { method: 'DELETE' as const, url }
  ]

  const revokedHeaders = await authHeader(app, ['read', 'write'], 'soon-revoked')
  await app.services.apiKeys.revoke('soon-revoked')
  const readOnly = await authHeader(app, ['read'])
  const credentials: [string, Record<string, string>, number, string][] = [
    ['no key', {}, 401, 'APP_AUTH_UNAUTHORIZED'],
    ['a revoked key', revokedHeaders, 401, 'APP_AUTH_UNAUTHORIZED'],
    ['an unknown key', { authorization: 'Bearer mxk_not-a-real-key' }, 401, 'APP_AUTH_UNAUTHORIZED'],
    ['Basic credentials', { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }, 401, 'APP_AUTH_UNAUTHORIZED'],
    ['a read-only key', readOnly, 403, 'APP_AUTH_FORBIDDEN']
  ]
  for (const write of writes) {
    for (const [label, headers, status, code] of credentials) {
      const res = await app.inject({ ...write, headers })
      const body = assertProblem(t, res, status, write.url)
      t.equal(body.code, code, `${write.method} with ${label}`)
      if (status === 401) {
        t.match(res.headers['www-authenticate'], /^Bearer\b/, `${write.method} with ${label}: WWW-Authenticate`)
        t.equal(body.type, '/problems/unauthorized')
      } else {
        t.equal(body.type, '/problems/forbidden')
      }
    }
  }
  const after = await app.inject({ url })
  t.match(after.json(), { action: 'exit', version: 1 }, 'no refused write changed the event')
  t.equal((await app.inject({ url: '/v1/events' })).json().data.length, 1, 'no refused write created an event')

  // A valid write key is accepted, and reads stay public by default.
  const writer = await authHeader(app, ['write'])
  const ok = await app.inject({ method: 'PATCH', url, headers: writer, payload: { action: 'resume' } })
  assertStatus(t, ok, 200)
  const admin = await authHeader(app, ['admin'])
  const byAdmin = await app.inject({ method: 'POST', url: '/v1/events', headers: admin, payload: minimal(company.id) })
  t.equal(byAdmin.statusCode, 201, 'admin implies write')
  t.equal((await app.inject({ url })).statusCode, 200, 'GET one without a key')
  t.equal((await app.inject({ url: '/v1/events' })).statusCode, 200, 'GET list without a key')
})

t.test('with READ_REQUIRES_KEY=true reads need a key', async (t) => {
  const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
  const event = await createEvent(app)
  const url = `/v1/events/${event.id}`

  for (const path of [url, '/v1/events']) {
    const anonymous = await app.inject({ url: path })
    const body = assertProblem(t, anonymous, 401, path)
    t.equal(body.code, 'APP_AUTH_UNAUTHORIZED')
    t.match(anonymous.headers['www-authenticate'], /^Bearer\b/)
  }

  const reader = await authHeader(app, ['read'])
  const one = await app.inject({ url, headers: reader })
  assertStatus(t, one, 200)
  t.equal(one.json().id, event.id)
  const list = await app.inject({ url: '/v1/events', headers: reader })
  assertStatus(t, list, 200)
  t.same(list.json().data.map((e: { id: string }) => e.id), [event.id])

  const writer = await authHeader(app, ['write'])
  t.equal((await app.inject({ url, headers: writer })).statusCode, 200, 'write implies read')
  const readOnlyWrite = await app.inject({ method: 'DELETE', url, headers: reader })
  t.equal(assertProblem(t, readOnlyWrite, 403).code, 'APP_AUTH_FORBIDDEN')
})

t.test('X-Request-Id is on every response and a well-formed one is echoed', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const event = await createEvent(app)

  const ids = new Set<string>()
  for (const res of [
    await app.inject({ url: `/v1/events/${event.id}` }),
    await app.inject({ url: '/v1/events' }),
    await app.inject({ url: `/v1/events/${randomUUID()}` }),
    await app.inject({ method: 'POST', url: '/v1/events', payload: {} }),
    await app.inject({ method: 'POST', url: '/v1/events', headers, payload: {} })
  ]) {
    const id = res.headers['x-request-id']
    t.type(id, 'string', `X-Request-Id on a ${res.statusCode}`)
    ids.add(id as string)
  }
  t.equal(ids.size, 5, 'each request gets its own id')

  const traced = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'x-request-id': 'trace-abc.123:x_y' } })
  t.equal(traced.statusCode, 200)
  t.equal(traced.headers['x-request-id'], 'trace-abc.123:x_y', 'echoed on success')

  const missing = await app.inject({ url: `/v1/events/${randomUUID()}`, headers: { 'x-request-id': 'trace-404' } })
  t.equal(missing.headers['x-request-id'], 'trace-404')
  t.equal(assertProblem(t, missing, 404).request_id, 'trace-404', 'echoed in a problem')

  const invalid = await app.inject({
    method: 'POST', url: '/v1/events', headers: { ...headers, 'x-request-id': 'trace-400' }, payload: { region: 'RU' }
  })
  t.equal(assertProblem(t, invalid, 400).request_id, 'trace-400')

  const anonymous = await app.inject({ method: 'DELETE', url: `/v1/events/${event.id}`, headers: { 'x-request-id': 'trace-401' } })
  t.equal(assertProblem(t, anonymous, 401).request_id, 'trace-401')

  const malformed = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'x-request-id': 'not ok <script>' } })
  t.equal(malformed.statusCode, 200)
  t.type(malformed.headers['x-request-id'], 'string')
  t.not(malformed.headers['x-request-id'], 'not ok <script>', 'a malformed id is replaced')
  const tooLong = await app.inject({ url: `/v1/events/${event.id}`, headers: { 'x-request-id': 'a'.repeat(500) } })
  t.not(tooLong.headers['x-request-id'], 'a'.repeat(500), 'an overlong id is replaced')
})
