import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/
const ETAG = /^(W\/)?"[^"]*"$/
// Both verified by hand with ISO 7064 MOD 97-10: the 20 characters as a number are 1 modulo 97.
const LEI_A = '529900T8BM49AURSDO55'
const LEI_B = '5493001KJTIIGC8Y1R12'
const LEI_BAD_CHECK = '529900T8BM49AURSDO56'

interface Expected { code?: string, in?: string, pointer?: string }

/** Asserts an RFC 9457 problem with every member the contract fixes, and optionally its code and failing field. */
function assertProblem (t: Test, res: LightMyRequestResponse, status: number, expected: Expected = {}, label = '') {
  const what = res.statusCode === status ? label : `${label} ${res.body}`
  t.equal(res.statusCode, status, `status ${status}: ${what}`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `problem content type: ${label}`)
  let body: Record<string, unknown>
  try {
    body = res.json()
  } catch {
    t.fail(`problem body is JSON: ${what}`)
    return
  }
  t.match(body, {
    type: /^\/problems\/[a-z0-9-]+$/,
    title: String,
    status,
    detail: String,
    instance: String,
    code: String,
    request_id: String
  }, `problem members: ${label}`)
  t.equal(body.request_id, res.headers['x-request-id'], `request_id is the X-Request-Id: ${label}`)
  if (expected.code !== undefined) t.equal(body.code, expected.code, `code: ${what}`)
  if (expected.pointer !== undefined) {
    const errors = (body.errors ?? []) as { in: string, pointer: string, message: string }[]
    const hit = errors.find((e) => e.pointer === expected.pointer && e.in === (expected.in ?? 'body'))
    t.ok(hit, `errors[] names ${expected.in ?? 'body'} ${expected.pointer}: ${what}`)
    if (hit) t.type(hit.message, 'string')
  }
}

async function post (app: App, payload: unknown, headers?: Record<string, string>) {
  return app.inject({ method: 'POST', url: '/v1/companies', headers: headers ?? await authHeader(app), payload: payload as object })
}

async function patch (app: App, id: string, payload: unknown, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'PATCH',
    url: `/v1/companies/${id}`,
    headers: { ...await authHeader(app), 'content-type': 'application/merge-patch+json', ...headers },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload)
  })
}

async function list (app: App, query: Record<string, string>) {
  return app.inject({ method: 'GET', url: '/v1/companies', query })
}

async function listNames (t: Test, app: App, query: Record<string, string>): Promise<string[]> {
  const res = await list(app, { limit: '200', ...query })
  t.equal(res.statusCode, 200, `list ${JSON.stringify(query)}: ${res.body}`)
  return (res.json().data as { name: string }[]).map((c) => c.name)
}

/** Walks every page of a listing and returns the ids in the order they came. */
async function walk (t: Test, app: App, query: Record<string, string>, limit: number, between?: () => Promise<void>) {
  const ids: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < 100; page++) {
    const res = await list(app, { ...query, limit: String(limit), ...(cursor === null ? {} : { cursor }) })
    t.equal(res.statusCode, 200, res.body)
    const body = res.json()
    t.ok(body.data.length <= limit, 'a page holds at most limit rows')
    ids.push(...body.data.map((c: { id: string }) => c.id))
    cursor = body.next_cursor
    if (cursor === null) return ids
    t.type(cursor, 'string')
    if (between) await between()
  }
  t.fail('the walk ended within 100 pages')
  return ids
}

t.test('POST creates a company: 201, Location, ETag, defaults and normalisation', async (t) => {
  const app = await buildTestApp(t)
  const res = await post(app, { name: '  Acme Corp  ' })
  t.equal(res.statusCode, 201, res.body)
  t.match(res.headers['content-type'], /^application\/json; charset=utf-8/)
  const company = res.json()
  t.match(company.id, UUID_V7, 'id is a UUIDv7')
  t.same(company, {
    id: company.id,
    name: 'Acme Corp',
    aliases: [],
    country: null,
    sector: null,
    lei: null,
    wikidata_id: null,
    website: null,
    created_at: company.created_at,
    updated_at: company.updated_at,
    version: 1
  })
  for (const field of ['created_at', 'updated_at']) {
    t.match(company[field], RFC3339_UTC, `${field} is an RFC 3339 UTC date-time`)
    t.notOk(Number.isNaN(Date.parse(company[field])), `${field} parses`)
    t.ok(Math.abs(Date.parse(company[field]) - Date.now()) < 60_000, `${field} is now`)
  }
  t.equal(res.headers.location, `/v1/companies/${company.id}`)
  t.match(res.headers.etag, ETAG)

  const fetched = await app.inject({ url: String(res.headers.location) })
  t.equal(fetched.statusCode, 200)
  t.same(fetched.json(), company, 'Location names the new company')
  t.equal(fetched.headers.etag, res.headers.etag, 'POST and GET agree on the ETag')

  const full = await post(app, {
    name: 'Amazon',
    aliases: ['Amazon.com, Inc.', 'Амазон', 'AMZN'],
    country: 'us',
    sector: 'Retail',
    lei: LEI_A.toLowerCase(),
    wikidata_id: 'Q3884',
    website: 'https://www.aboutamazon.com'
  })
  t.equal(full.statusCode, 201, full.body)
  t.match(full.json(), {
    name: 'Amazon',
    aliases: ['Amazon.com, Inc.', 'Амазон', 'AMZN'],
    country: 'US',
    sector: 'Retail',
    lei: LEI_A,
    wikidata_id: 'Q3884',
    website: 'https://www.aboutamazon.com',
    version: 1
  })
  t.not(full.json().id, company.id)

  const second = await post(app, { name: 'Other', lei: LEI_B, country: 'FR', website: 'http://example.org/path?x=1' })
  t.equal(second.statusCode, 201, second.body)
  t.match(second.json(), { lei: LEI_B, country: 'FR', website: 'http://example.org/path?x=1' })
})

t.test('POST accepts values at the limits of each rule', async (t) => {
  const app = await buildTestApp(t)
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['name of 200 chars', { name: 'n'.repeat(200) }, { name: 'n'.repeat(200) }],
    ['name of 1 char', { name: 'x' }, { name: 'x' }],
    ['name of 200 chars after trimming', { name: `  ${'p'.repeat(200)}  ` }, { name: 'p'.repeat(200) }],
    ['50 aliases of 200 chars', { name: 'a', aliases: Array.from({ length: 50 }, (_, i) => `${i}`.padEnd(200, 'a')) }, {}],
    ['sector of 100 chars', { name: 'a', sector: 's'.repeat(100) }, { sector: 's'.repeat(100) }],
    ['explicit nulls', { name: 'a', country: null, sector: null, lei: null, wikidata_id: null, website: null }, { country: null, lei: null }],
    ['a large wikidata id', { name: 'a', wikidata_id: 'Q1234567890' }, { wikidata_id: 'Q1234567890' }],
    // The scheme is case-insensitive (RFC 3986), as the schema's pattern says; the database's check must agree.
    ['an upper-case scheme', { name: 'a', website: 'HTTPS://Example.org/About' }, { website: 'HTTPS://Example.org/About' }]
  ]
  for (const [label, payload, expected] of cases) {
    const res = await post(app, payload)
    t.equal(res.statusCode, 201, res.statusCode === 201 ? label : `${label}: ${res.body}`)
    t.match(res.json(), expected, label)
  }
})

t.test('POST refuses every invalid field with a 400 problem naming it', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const cases: [string, unknown, string][] = [
    ['name missing', {}, '/name'],
    ['name missing with other fields', { country: 'US' }, '/name'],
    ['name empty', { name: '' }, '/name'],
    ['name blank', { name: '   ' }, '/name'],
    ['name of 201 chars', { name: 'n'.repeat(201) }, '/name'],
    ['name a number (not coerced)', { name: 123 }, '/name'],
    ['name null', { name: null }, '/name'],
    ['51 aliases', { name: 'a', aliases: Array.from({ length: 51 }, (_, i) => `alias ${i}`) }, '/aliases'],
    ['alias of 201 chars', { name: 'a', aliases: ['ok', 'x'.repeat(201)] }, '/aliases/1'],
    ['blank alias', { name: 'a', aliases: ['ok', '  '] }, '/aliases/1'],
    ['empty alias', { name: 'a', aliases: [''] }, '/aliases/0'],
    ['aliases not an array', { name: 'a', aliases: 'x' }, '/aliases'],
    ['alias a number', { name: 'a', aliases: [1] }, '/aliases/0'],
    ['unknown country', { name: 'a', country: 'XX' }, '/country'],
    ['country of 3 letters', { name: 'a', country: 'USA' }, '/country'],
    ['country of 1 letter', { name: 'a', country: 'U' }, '/country'],
    ['sector of 101 chars', { name: 'a', sector: 's'.repeat(101) }, '/sector'],
    ['LEI with bad check digits', { name: 'a', lei: LEI_BAD_CHECK }, '/lei'],
    ['LEI of 19 chars', { name: 'a', lei: LEI_A.slice(0, 19) }, '/lei'],
    ['LEI of 21 chars', { name: 'a', lei: `${LEI_A}5` }, '/lei'],
    ['LEI with punctuation', { name: 'a', lei: '529900T8BM49AURSD-55' }, '/lei'],
    ['wikidata id Q0', { name: 'a', wikidata_id: 'Q0' }, '/wikidata_id'],
    ['wikidata id X1', { name: 'a', wikidata_id: 'X1' }, '/wikidata_id'],
    ['wikidata id Q12a', { name: 'a', wikidata_id: 'Q12a' }, '/wikidata_id'],
    ['wikidata id a number', { name: 'a', wikidata_id: 42 }, '/wikidata_id'],
    ['ftp website', { name: 'a', website: 'ftp://x' }, '/website'],
    ['javascript website', { name: 'a', website: 'javascript:alert(1)' }, '/website'],
    ['relative website', { name: 'a', website: '/about' }, '/website'],
    ['website without scheme', { name: 'a', website: 'www.example.com' }, '/website'],
    ['unknown field', { name: 'a', colour: 'red' }, '/colour'],
    ['server-owned id', { name: 'a', id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e' }, '/id'],
    ['server-owned version', { name: 'a', version: 1 }, '/version'],
    ['server-owned created_at', { name: 'a', created_at: '2022-03-08T00:00:00.000000Z' }, '/created_at'],
    ['server-owned updated_at', { name: 'a', updated_at: '2022-03-08T00:00:00.000000Z' }, '/updated_at'],
    ['NUL in name', { name: 'a\u0000b' }, '/name'],
    ['NUL in an alias', { name: 'a', aliases: ['ok', 'b\u0000'] }, '/aliases/1']
  ]
  for (const [label, payload, pointer] of cases) {
    const res = await post(app, payload, headers)
    assertProblem(t, res, 400, { code: 'APP_VALIDATION', pointer }, label)
  }

  const surrogate = await app.inject({
    method: 'POST', url: '/v1/companies', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name":"a\\ud800"}'
  })
  assertProblem(t, surrogate, 400, { code: 'APP_VALIDATION', pointer: '/name' }, 'lone surrogate in name')

  const malformed = await app.inject({
    method: 'POST', url: '/v1/companies', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name":'
  })
  assertProblem(t, malformed, 400, {}, 'malformed JSON')

  const notObject = await app.inject({
    method: 'POST', url: '/v1/companies', headers: { ...headers, 'content-type': 'application/json' }, payload: '["a"]'
  })
  assertProblem(t, notObject, 400, {}, 'an array body')

  const textPlain = await app.inject({
    method: 'POST', url: '/v1/companies', headers: { ...headers, 'content-type': 'text/plain' }, payload: 'name=a'
  })
  assertProblem(t, textPlain, 415, {}, 'text/plain body')

  const none = await list(app, {})
  t.same(none.json().data, [], 'no refused request created a company')
})

t.test('writes need a key with the write scope', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Guarded' })
  const readOnly = await authHeader(app, ['read'])
  const attempts = [
    { method: 'POST' as const, url: '/v1/companies', payload: { name: 'Nope' } },
    { method: 'PATCH' as const, url: `/v1/companies/${company.id}`, payload: { name: 'Nope' } },
    { method: 'DELETE' as const, url: `/v1/companies/${company.id}` }
  ]
  for (const attempt of attempts) {
    assertProblem(t, await app.inject(attempt), 401, {}, `${attempt.method} without a key`)
    assertProblem(t, await app.inject({ ...attempt, headers: { authorization: 'Bearer not-a-real-key' } }), 401, {},
      `${attempt.method} with an unknown key`)
    assertProblem(t, await app.inject({ ...attempt, headers: readOnly }), 403, {}, `${attempt.method} with a read-only key`)
  }
  const after = await app.inject({ url: `/v1/companies/${company.id}` })
  t.equal(after.statusCode, 200)
  t.match(after.json(), { name: 'Guarded', version: 1 }, 'the company is unchanged')
  t.same((await list(app, {})).json().data.map((c: { name: string }) => c.name), ['Guarded'], 'nothing was created')
})

t.test('lei and wikidata_id are unique among live companies', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const holder = await post(app, { name: 'Holder', lei: LEI_A, wikidata_id: 'Q42' }, headers)
  t.equal(holder.statusCode, 201, holder.body)

  assertProblem(t, await post(app, { name: 'Dup LEI', lei: LEI_A }, headers), 409, {}, 'duplicate lei')
  assertProblem(t, await post(app, { name: 'Dup LEI lower', lei: LEI_A.toLowerCase() }, headers), 409, {}, 'duplicate lei in lower case')
  assertProblem(t, await post(app, { name: 'Dup Wikidata', wikidata_id: 'Q42' }, headers), 409, {}, 'duplicate wikidata_id')

  const other = await post(app, { name: 'Other', lei: LEI_B, wikidata_id: 'Q43' }, headers)
  t.equal(other.statusCode, 201, other.body)
  assertProblem(t, await patch(app, other.json().id, { lei: LEI_A }), 409, {}, 'patch to a taken lei')
  assertProblem(t, await patch(app, other.json().id, { wikidata_id: 'Q42' }), 409, {}, 'patch to a taken wikidata_id')
  t.match((await app.inject({ url: `/v1/companies/${other.json().id}` })).json(), { lei: LEI_B, wikidata_id: 'Q43', version: 1 })

  const deleted = await app.inject({ method: 'DELETE', url: `/v1/companies/${holder.json().id}`, headers })
  t.equal(deleted.statusCode, 204)
  const reused = await post(app, { name: 'New holder', lei: LEI_A, wikidata_id: 'Q42' }, headers)
  t.equal(reused.statusCode, 201, `lei and wikidata_id are free again after the holder is deleted: ${reused.body}`)
  t.match(reused.json(), { lei: LEI_A, wikidata_id: 'Q42' })
})

t.test('GET one company: ETag, If-None-Match, 404 and malformed ids', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Fetched', country: 'DE' })

  const res = await app.inject({ url: `/v1/companies/${company.id}` })
  t.equal(res.statusCode, 200)
  t.same(res.json(), company)
  t.match(res.headers.etag, ETAG)
  const etag = String(res.headers.etag)

  const notModified = await app.inject({ url: `/v1/companies/${company.id}`, headers: { 'if-none-match': etag } })
  t.equal(notModified.statusCode, 304)
  t.equal(notModified.body, '', '304 has no body')
  t.equal(notModified.headers.etag, etag, '304 repeats the ETag')

  const listed = await app.inject({ url: `/v1/companies/${company.id}`, headers: { 'if-none-match': `"stale", ${etag}` } })
  t.equal(listed.statusCode, 304, 'an ETag in a list matches')
  const weak = await app.inject({ url: `/v1/companies/${company.id}`, headers: { 'if-none-match': `W/${etag}` } })
  t.equal(weak.statusCode, 304, 'If-None-Match compares weakly')
  const other = await app.inject({ url: `/v1/companies/${company.id}`, headers: { 'if-none-match': '"no-such-version"' } })
  t.equal(other.statusCode, 200, 'another ETag gets the body')
  t.same(other.json(), company)

  const unknown = await app.inject({ url: '/v1/companies/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e' })
  assertProblem(t, unknown, 404, { code: 'APP_COMPANY_NOT_FOUND' }, 'unknown id')
  t.equal(unknown.json().instance, '/v1/companies/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e')

  for (const id of ['abc', `urn:uuid:${company.id}`, `${company.id}0`, `{${company.id}}`]) {
    assertProblem(t, await app.inject({ url: `/v1/companies/${id}` }), 400, { code: 'APP_VALIDATION', in: 'params', pointer: '/id' }, `GET id ${id}`)
  }
  const headers = await authHeader(app)
  assertProblem(t, await app.inject({ method: 'PATCH', url: '/v1/companies/abc', headers, payload: { name: 'x' } }), 400,
    { in: 'params', pointer: '/id' }, 'PATCH id abc')
  assertProblem(t, await app.inject({ method: 'DELETE', url: `/v1/companies/urn:uuid:${company.id}`, headers }), 400,
    { in: 'params', pointer: '/id' }, 'DELETE urn id')
})

t.test('PATCH applies a JSON merge patch', async (t) => {
  const app = await buildTestApp(t)
  const created = await post(app, {
    name: 'Patchable',
    aliases: ['P1', 'P2'],
    country: 'US',
    sector: 'Retail',
    lei: LEI_A,
    wikidata_id: 'Q100',
    website: 'https://patchable.example'
  })
  t.equal(created.statusCode, 201, created.body)
  const original = created.json()
  const id = original.id

  const sector = await patch(app, id, { sector: 'Energy' })
  t.equal(sector.statusCode, 200, sector.body)
  const v2 = sector.json()
  t.same(v2, { ...original, sector: 'Energy', version: 2, updated_at: v2.updated_at }, 'only the sector changed')
  t.ok(Date.parse(v2.updated_at) > Date.parse(original.updated_at) ||
    (v2.updated_at > original.updated_at), 'updated_at moved forward')
  t.equal(v2.created_at, original.created_at, 'created_at stays')
  t.match(v2.updated_at, RFC3339_UTC)
  t.match(sector.headers.etag, ETAG)
  t.not(sector.headers.etag, created.headers.etag, 'a new version has a new ETag')
  const fetched = await app.inject({ url: `/v1/companies/${id}` })
  t.same(fetched.json(), v2, 'the change is stored')
  t.equal(fetched.headers.etag, sector.headers.etag)

  const cleared = await patch(app, id, { website: null, lei: null })
  t.equal(cleared.statusCode, 200, cleared.body)
  t.match(cleared.json(), { website: null, lei: null, wikidata_id: 'Q100', sector: 'Energy', version: 3 }, 'null clears nullable fields')

  const aliases = await patch(app, id, { aliases: ['Only'] })
  t.same(aliases.json().aliases, ['Only'], 'aliases are replaced whole')
  t.equal(aliases.json().version, 4)
  const noAliases = await patch(app, id, { aliases: [] })
  t.same(noAliases.json().aliases, [], 'an empty array empties the aliases')

  const normalised = await patch(app, id, { name: '  Renamed  ', country: 'fr', lei: LEI_B.toLowerCase() })
  t.equal(normalised.statusCode, 200, normalised.body)
  t.match(normalised.json(), { name: 'Renamed', country: 'FR', lei: LEI_B, version: 6 }, 'patched values are normalised')

  const before = normalised.json()
  for (const [label, body] of [
    ['an empty patch', {}],
    ['a patch with the current values', { name: 'Renamed', country: 'FR', sector: 'Energy', website: null, aliases: [] }],
    ['a patch whose values normalise to the current ones', { name: ' Renamed ', country: 'fr', lei: LEI_B.toLowerCase() }]
  ] as const) {
    const same = await patch(app, id, body)
    t.equal(same.statusCode, 200, `${label}: ${same.body}`)
    t.same(same.json(), before, `${label} keeps the version and updated_at`)
    t.equal(same.headers.etag, normalised.headers.etag, `${label} keeps the ETag`)
  }

  const invalid: [string, unknown, string][] = [
    ['null name', { name: null }, '/name'],
    ['blank name', { name: '  ' }, '/name'],
    ['name of 201 chars', { name: 'n'.repeat(201) }, '/name'],
    ['null aliases', { aliases: null }, '/aliases'],
    ['unknown country', { country: 'XX' }, '/country'],
    ['bad LEI', { lei: LEI_BAD_CHECK }, '/lei'],
    ['bad wikidata id', { wikidata_id: 'Q0' }, '/wikidata_id'],
    ['javascript website', { website: 'javascript:alert(1)' }, '/website'],
    ['sector of 101 chars', { sector: 's'.repeat(101) }, '/sector'],
    ['unknown field', { colour: 'red' }, '/colour'],
    ['server-owned version', { version: 9 }, '/version'],
    ['server-owned id', { id }, '/id'],
    ['server-owned created_at', { created_at: original.created_at }, '/created_at'],
    ['server-owned updated_at', { updated_at: original.updated_at }, '/updated_at'],
    ['NUL in sector', { sector: 'a\u0000' }, '/sector'],
    ['name a number', { name: 123 }, '/name']
  ]
  for (const [label, body, pointer] of invalid) {
    assertProblem(t, await patch(app, id, body), 400, { code: 'APP_VALIDATION', pointer }, `PATCH ${label}`)
  }
  assertProblem(t, await patch(app, id, '{"name":"a\\ud800"}'), 400, { pointer: '/name' }, 'PATCH lone surrogate')
  assertProblem(t, await patch(app, id, '{"name":'), 400, {}, 'PATCH malformed JSON')
  t.same((await app.inject({ url: `/v1/companies/${id}` })).json(), before, 'refused patches changed nothing')

  assertProblem(t, await patch(app, '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', { name: 'x' }), 404,
    { code: 'APP_COMPANY_NOT_FOUND' }, 'PATCH an unknown id')
})

t.test('PATCH content types and If-Match', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Conditional' })
  const id = company.id

  const merge = await patch(app, id, { sector: 'A' }, { 'content-type': 'application/merge-patch+json' })
  t.equal(merge.statusCode, 200, merge.body)
  t.equal(merge.json().sector, 'A')
  const mergeCharset = await patch(app, id, { sector: 'B' }, { 'content-type': 'application/merge-patch+json; charset=utf-8' })
  t.equal(mergeCharset.statusCode, 200, mergeCharset.body)
  const json = await patch(app, id, { sector: 'C' }, { 'content-type': 'application/json' })
  t.equal(json.statusCode, 200, json.body)
  t.match(json.json(), { sector: 'C', version: 4 })

  const text = await patch(app, id, { sector: 'D' }, { 'content-type': 'text/plain' })
  assertProblem(t, text, 415, {}, 'text/plain patch')
  const form = await patch(app, id, 'sector=D', { 'content-type': 'application/x-www-form-urlencoded' })
  assertProblem(t, form, 415, {}, 'form patch')

  const current = String(json.headers.etag)
  const matching = await patch(app, id, { sector: 'E' }, { 'if-match': current })
  t.equal(matching.statusCode, 200, `current If-Match: ${matching.body}`)
  t.match(matching.json(), { sector: 'E', version: 5 })

  const stale = await patch(app, id, { sector: 'F' }, { 'if-match': current })
  assertProblem(t, stale, 412, { code: 'APP_PRECONDITION_FAILED' }, 'stale If-Match')

  const star = await patch(app, id, { sector: 'G' }, { 'if-match': '*' })
  t.equal(star.statusCode, 200, `If-Match *: ${star.body}`)
  t.match(star.json(), { sector: 'G', version: 6 })

  const fetched = await app.inject({ url: `/v1/companies/${id}` })
  t.match(fetched.json(), { sector: 'G', version: 6 }, 'the stale and refused patches were not applied')
})

t.test('DELETE soft-deletes a company', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app, { name: 'Doomed' })
  const url = `/v1/companies/${company.id}`

  const stale = await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"999"' } })
  assertProblem(t, stale, 412, { code: 'APP_PRECONDITION_FAILED' }, 'stale If-Match on DELETE')
  t.equal((await app.inject({ url })).statusCode, 200, 'a refused delete leaves the company')

  const etag = String((await app.inject({ url })).headers.etag)
  const deleted = await app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': etag } })
  t.equal(deleted.statusCode, 204, deleted.body)
  t.equal(deleted.body, '', '204 has no body')

  assertProblem(t, await app.inject({ url }), 404, { code: 'APP_COMPANY_NOT_FOUND' }, 'GET after delete')
  assertProblem(t, await app.inject({ method: 'DELETE', url, headers }), 404, { code: 'APP_COMPANY_NOT_FOUND' }, 'repeat DELETE')
  assertProblem(t, await patch(app, company.id, { name: 'Zombie' }), 404, { code: 'APP_COMPANY_NOT_FOUND' }, 'PATCH after delete')
  assertProblem(t, await app.inject({ method: 'DELETE', url: '/v1/companies/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', headers }), 404,
    { code: 'APP_COMPANY_NOT_FOUND' }, 'DELETE an unknown id')

  const plain = await createCompany(app, { name: 'Plain' })
  const star = await app.inject({ method: 'DELETE', url: `/v1/companies/${plain.id}`, headers: { ...headers, 'if-match': '*' } })
  t.equal(star.statusCode, 204, 'If-Match * deletes')
})

t.test('a company with live events cannot be deleted', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app, { name: 'Busy' })
  const first = await createEvent(app, { company_id: company.id })
  const second = await createEvent(app, { company_id: company.id, region: 'BY' })
  const url = `/v1/companies/${company.id}`

  assertProblem(t, await app.inject({ method: 'DELETE', url, headers }), 409, { code: 'APP_COMPANY_HAS_EVENTS' }, 'delete with two events')
  t.equal((await app.inject({ url })).statusCode, 200, 'the company is still there')
  t.equal((await app.inject({ url: `/v1/events/${first.id}` })).statusCode, 200, 'its events are still there')

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/events/${first.id}`, headers })).statusCode, 204)
  assertProblem(t, await app.inject({ method: 'DELETE', url, headers }), 409, { code: 'APP_COMPANY_HAS_EVENTS' }, 'delete with one event left')
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/events/${second.id}`, headers })).statusCode, 204)

  const deleted = await app.inject({ method: 'DELETE', url, headers })
  t.equal(deleted.statusCode, 204, `delete once the events are gone: ${deleted.body}`)
  t.equal((await app.inject({ url })).statusCode, 404)

  const event = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'RU', service: 'All operations', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://example.com/a' }] }
  })
  assertProblem(t, event, 400, { pointer: '/company_id' }, 'event for a deleted company')
})

t.test('list: q matches names and aliases ignoring case and accents, literally', async (t) => {
  const app = await buildTestApp(t)
  await createCompany(app, { name: 'Société Générale', country: 'FR' })
  await createCompany(app, { name: 'Amazon', aliases: ['Amazon.com, Inc.', 'Амазон', 'AMZN'], country: 'US' })
  await createCompany(app, { name: 'Apple', country: 'US' })
  await createCompany(app, { name: 'Foo_Bar' })
  await createCompany(app, { name: 'FooXBar' })
  await createCompany(app, { name: '50% Off' })
  await createCompany(app, { name: '50 Off' })
  await createCompany(app, { name: 'Back\\slash' })
  await createCompany(app, { name: 'Backslash' })

  const cases: [string, string[]][] = [
    ['societe', ['Société Générale']],
    ['SOCIÉTÉ', ['Société Générale']],
    ['générale', ['Société Générale']],
    ['e ge', ['Société Générale']],
    ['амазон', ['Amazon']],
    ['АМАЗОН', ['Amazon']],
    ['Амазон', ['Amazon']],
    ['amzn', ['Amazon']],
    ['com, inc', ['Amazon']],
    ['AMAZ', ['Amazon']],
    ['app', ['Apple']],
    ['_', ['Foo_Bar']],
    ['o_b', ['Foo_Bar']],
    ['%', ['50% Off']],
    // Fuzzy too: punctuation is not part of a name key, so '50%' resembles '50 Off' as well.
    ['50%', ['50% Off', '50 Off']],
    ['0 o', ['50 Off']],
    ['\\', ['Back\\slash']],
    ['nothing like this', []]
  ]
  for (const [q, expected] of cases) {
    t.same((await listNames(t, app, { q })).sort(), expected.sort(), `q=${q}`)
  }

  t.same((await listNames(t, app, { country: 'US' })).sort(), ['Amazon', 'Apple'], 'country=US')
  t.same((await listNames(t, app, { country: 'us' })).sort(), ['Amazon', 'Apple'], 'country=us')
  t.same(await listNames(t, app, { country: 'FR' }), ['Société Générale'], 'country=FR')
  t.same(await listNames(t, app, { country: 'DE' }), [], 'country=DE')
  t.same(await listNames(t, app, { country: 'US', q: 'app' }), ['Apple'], 'country and q together')
  assertProblem(t, await list(app, { country: 'XX' }), 400, { in: 'querystring', pointer: '/country' }, 'country=XX')
})

t.test('list: every sort order', async (t) => {
  const app = await buildTestApp(t)
  // Created in one order, updated in another, named in a third.
  const charlie = await createCompany(app, { name: 'Charlie' })
  const alpha = await createCompany(app, { name: 'Alpha' })
  const delta = await createCompany(app, { name: 'Delta' })
  const bravo = await createCompany(app, { name: 'Bravo' })
  for (const company of [alpha, delta, charlie, bravo]) {
    const res = await patch(app, company.id, { sector: 'Touched' })
    t.equal(res.statusCode, 200, res.body)
  }

  const expected: Record<string, string[]> = {
    name: ['Alpha', 'Bravo', 'Charlie', 'Delta'],
    created_at: ['Charlie', 'Alpha', 'Delta', 'Bravo'],
    updated_at: ['Alpha', 'Delta', 'Charlie', 'Bravo']
  }
  for (const [sort, names] of Object.entries(expected)) {
    t.same(await listNames(t, app, { sort }), names, `sort=${sort}`)
    t.same(await listNames(t, app, { sort: `-${sort}` }), [...names].reverse(), `sort=-${sort}`)
    for (const direction of ['', '-']) {
      const ids = await walk(t, app, { sort: `${direction}${sort}` }, 1)
      const byId = new Map([charlie, alpha, delta, bravo].map((c) => [c.id, c.name]))
      t.same(ids.map((id) => byId.get(id)), direction === '' ? names : [...names].reverse(), `walk sort=${direction}${sort} one by one`)
    }
  }
  t.same(await listNames(t, app, {}), expected.name, 'the default sort is by name')
  assertProblem(t, await list(app, { sort: 'bogus' }), 400, { in: 'querystring', pointer: '/sort' }, 'sort=bogus')
})

t.test('list: keyset pagination returns each company exactly once', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const originals = new Set<string>()
  for (let i = 0; i < 23; i++) {
    // Repeated names and interleaved creation make ties and out-of-order keys.
    const name = i % 4 === 0 ? 'P-same' : `P-${String((i * 7) % 23).padStart(2, '0')}`
    originals.add((await createCompany(app, { name })).id)
  }
  for (const id of [...originals].slice(0, 10).reverse()) {
    t.equal((await patch(app, id, { sector: 'Touched' })).statusCode, 200)
  }

  let inserted = 0
  for (const sort of ['name', '-name', 'created_at', '-created_at', 'updated_at', '-updated_at']) {
    const whole = await list(app, { sort, limit: '200' })
    const reference = whole.json().data.map((c: { id: string }) => c.id)
    t.equal(whole.json().next_cursor, null, 'one page of 200 holds everything')
    for (const limit of [1, 5, 7, 23, 50]) {
      const ids = await walk(t, app, { sort }, limit)
      t.same(ids, reference, `sort=${sort} limit=${limit}: pages add up to the whole list in order`)
    }
    const names = whole.json().data.map((c: { name: string }) => c.name)
    if (sort === 'name') t.same(names, [...names].sort(), 'names ascend')
    if (sort === '-name') t.same(names, [...names].sort().reverse(), 'names descend')

    // Companies added mid-walk must not make any original company repeat or vanish.
    const seen = await walk(t, app, { sort }, 4, async () => {
      const res = await post(app, { name: `P-${inserted % 2 === 0 ? '00' : 'zz'}-new-${inserted++}` }, headers)
      t.equal(res.statusCode, 201)
    })
    t.equal(new Set(seen).size, seen.length, `sort=${sort}: no company repeats while others are inserted`)
    t.same([...originals].filter((id) => !seen.includes(id)), [], `sort=${sort}: no original company vanishes while others are inserted`)
  }
})

t.test('list: bad cursors, limits and parameters are 400 problems', async (t) => {
  const app = await buildTestApp(t)
  for (let i = 0; i < 5; i++) await createCompany(app, { name: `Paged ${i}`, country: 'US' })

  const first = await list(app, { q: 'paged', sort: 'name', limit: '2' })
  t.equal(first.statusCode, 200)
  const cursor = first.json().next_cursor
  t.type(cursor, 'string')

  const same = await list(app, { q: 'paged', sort: 'name', limit: '3', cursor })
  t.equal(same.statusCode, 200, 'a cursor works with another limit')
  t.same(same.json().data.map((c: { name: string }) => c.name), ['Paged 2', 'Paged 3', 'Paged 4'])

  const reused: [string, Record<string, string>][] = [
    ['another q', { q: 'page', sort: 'name' }],
    ['no q', { sort: 'name' }],
    ['another sort', { q: 'paged', sort: '-name' }],
    ['another sort key', { q: 'paged', sort: 'created_at' }],
    ['an added filter', { q: 'paged', sort: 'name', country: 'US' }]
  ]
  for (const [label, query] of reused) {
    assertProblem(t, await list(app, { ...query, cursor }), 400, {}, `cursor with ${label}`)
  }
  const defaultSort = await list(app, { limit: '2' })
  assertProblem(t, await list(app, { sort: '-created_at', cursor: defaultSort.json().next_cursor }), 400, {}, 'cursor of the default sort with another sort')

  const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  const tampered = (k: unknown) => Buffer.from(JSON.stringify({ ...payload, k })).toString('base64url')
  const created = await list(app, { sort: 'created_at', limit: '2' })
  const createdPayload = JSON.parse(Buffer.from(created.json().next_cursor, 'base64url').toString('utf8'))
  const garbage: [string, Record<string, string>][] = [
    ['not base64 JSON', { cursor: 'garbage!!' }],
    ['plain text', { cursor: 'abc' }],
    ['base64 of text', { cursor: Buffer.from('hello').toString('base64url') }],
    ['base64 of a JSON array', { cursor: Buffer.from('[1,2]').toString('base64url') }],
    ['an empty cursor', { cursor: '' }],
    ['a key whose id is not a uuid', { q: 'paged', sort: 'name', cursor: tampered(['Paged 1', 'not-a-uuid']) }],
    ['a key of the wrong shape', { q: 'paged', sort: 'name', cursor: tampered(['Paged 1']) }],
    ['a timestamp key that is not a timestamp', {
      sort: 'created_at',
      cursor: Buffer.from(JSON.stringify({ ...createdPayload, k: ['yesterday', createdPayload.k[1]] })).toString('base64url')
    }]
  ]
  for (const [label, query] of garbage) {
    assertProblem(t, await list(app, query), 400, {}, `cursor: ${label}`)
  }

  for (const limit of ['0', '201', '0x10', '1e1', '-1', 'abc', '1.5', '']) {
    assertProblem(t, await list(app, { limit }), 400, { in: 'querystring', pointer: '/limit' }, `limit=${limit}`)
  }
  t.equal((await list(app, { limit: '1' })).json().data.length, 1, 'limit=1')
  t.equal((await list(app, { limit: '200' })).statusCode, 200, 'limit=200')
  t.equal((await list(app, {})).json().data.length, 5, 'the default limit holds five')

  for (const name of ['foo', 'Q', 'page', 'offset']) {
    assertProblem(t, await list(app, { [name]: '1' }), 400, { in: 'querystring', pointer: `/${name}` }, `unknown parameter ${name}`)
  }
  assertProblem(t, await list(app, { q: 'a\u0000' }), 400, { in: 'querystring', pointer: '/q' }, 'NUL in q')
})

t.test('list: deleted companies are never listed', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const kept = await createCompany(app, { name: 'Kept Alive', country: 'US' })
  const gone = await createCompany(app, { name: 'Kept Gone', aliases: ['Vanished'], country: 'US' })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/companies/${gone.id}`, headers })).statusCode, 204)

  for (const sort of ['name', '-name', 'created_at', '-created_at', 'updated_at', '-updated_at']) {
    t.same(await listNames(t, app, { sort }), ['Kept Alive'], `sort=${sort}`)
    t.same(await walk(t, app, { sort }, 1), [kept.id], `walk sort=${sort}`)
  }
  t.same(await listNames(t, app, { q: 'kept' }), ['Kept Alive'], 'q on the name')
  t.same(await listNames(t, app, { q: 'vanished' }), [], 'q on an alias of a deleted company')
  t.same(await listNames(t, app, { country: 'US' }), ['Kept Alive'], 'country filter')
})
