import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

/** Asserts a status; the body shows in the diagnostics when it differs. */
function assertStatus (t: Test, res: LightMyRequestResponse, status: number, message = `status ${status}`) {
  t.equal(res.statusCode, status, message, { body: res.body })
}

/** Asserts an RFC 9457 problem of this status and kind, and returns its body. */
function assertProblem (t: Test, res: LightMyRequestResponse, status: number, type: string, instance: string) {
  assertStatus(t, res, status)
  t.match(res.headers['content-type'], /^application\/problem\+json; charset=utf-8$/, 'problem content type')
  const body = res.json()
  t.match(body, { type, title: String, status, detail: String, instance, code: /^[A-Z_]+$/, request_id: String }, 'problem shape')
  t.ok(body.title.length > 0 && body.detail.length > 0, 'title and detail are not empty')
  t.equal(body.request_id, res.headers['x-request-id'], 'request_id matches X-Request-Id')
  return body
}

/** Asserts a 400 validation problem that names exactly this field of the body. */
function assertFieldError (t: Test, res: LightMyRequestResponse, pointer: string, instance: string, message?: RegExp) {
  const body = assertProblem(t, res, 400, '/problems/validation-error', instance)
  t.equal(body.code, 'APP_VALIDATION')
  t.same(body.errors?.map((e: { in: string, pointer: string }) => `${e.in}${e.pointer}`), [`body${pointer}`], `names ${pointer}`)
  if (message !== undefined) t.match(body.errors?.[0]?.message, message)
}

const long = (n: number) => 'x'.repeat(n)

function validEvent (companyId: string): Record<string, unknown> {
  return {
    company_id: companyId,
    region: 'RU',
    service: 'Retail shipping',
    action: 'suspend',
    date: '2022-03-08',
    sources: [{ url: `https://news.example.com/${randomUUID()}` }]
  }
}

const withSource = (base: Record<string, unknown>, source: Record<string, unknown>) =>
  ({ ...base, sources: [{ url: `https://news.example.com/${randomUUID()}`, ...source }] })

function without (base: Record<string, unknown>, field: string) {
  const copy = { ...base }
  delete copy[field]
  return copy
}

async function deletedCompany (app: App, headers: Record<string, string>): Promise<string> {
  const company = await createCompany(app)
  const res = await app.inject({ method: 'DELETE', url: `/v1/companies/${company.id}`, headers })
  if (res.statusCode !== 204) throw new Error(`could not delete the company: ${res.body}`)
  return company.id
}

t.test('POST /v1/events refuses each invalid field with a 400 naming it', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const goneId = await deletedCompany(app, headers)
  const base = validEvent(company.id)

  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['company_id missing', without(base, 'company_id'), '/company_id', /required/],
    ['company_id of no company', { ...base, company_id: randomUUID() }, '/company_id'],
    ['company_id of a deleted company', { ...base, company_id: goneId }, '/company_id'],
    ['company_id not a uuid', { ...base, company_id: 'abc' }, '/company_id'],
    ['company_id as urn:uuid', { ...base, company_id: `urn:uuid:${company.id}` }, '/company_id'],
    ['region XX', { ...base, region: 'XX' }, '/region', /unknown region code/],
    ['region RU-ZZZ', { ...base, region: 'RU-ZZZ' }, '/region', /unknown region code/],
    ['region R', { ...base, region: 'R' }, '/region'],
    ['region missing', without(base, 'region'), '/region', /required/],
    ['service blank', { ...base, service: '   ' }, '/service', /blank/],
    ['service empty', { ...base, service: '' }, '/service'],
    ['service over 200 chars', { ...base, service: long(201) }, '/service'],
    ['service a number (bodies are not coerced)', { ...base, service: 5 }, '/service'],
    ['service missing', without(base, 'service'), '/service'],
    ['action leave', { ...base, action: 'leave' }, '/action'],
    ['action in capitals', { ...base, action: 'EXIT' }, '/action'],
    ['action missing', without(base, 'action'), '/action'],
    ['date 2022-02-30', { ...base, date: '2022-02-30' }, '/date', /calendar date/],
    ['date 2022-13-01', { ...base, date: '2022-13-01' }, '/date'],
    ['date 22-03-01', { ...base, date: '22-03-01' }, '/date'],
    ['date 2023-02-29 (not a leap year)', { ...base, date: '2023-02-29' }, '/date'],
    ['date with a time', { ...base, date: '2022-03-08T10:00:00Z' }, '/date'],
    ['date a number', { ...base, date: 20220308 }, '/date'],
    ['date missing', without(base, 'date'), '/date'],
    ['date_precision week', { ...base, date_precision: 'week' }, '/date_precision'],
    ['date_precision month, date not on the 1st', { ...base, date_precision: 'month', date: '2022-03-15' }, '/date', /first day/],
    ['date_precision year, date not on Jan 1', { ...base, date_precision: 'year', date: '2022-03-01' }, '/date', /first day/],
    ['effective_date 2022-02-30', { ...base, effective_date: '2022-02-30' }, '/effective_date'],
    ['effective_date not a date', { ...base, effective_date: 'soon' }, '/effective_date'],
    ['summary over 2000 chars', { ...base, summary: long(2001) }, '/summary'],
    ['sources empty', { ...base, sources: [] }, '/sources'],
    ['21 sources', { ...base, sources: Array.from({ length: 21 }, (_, i) => ({ url: `https://example.com/${i}` })) }, '/sources'],
    ['sources missing', without(base, 'sources'), '/sources', /required/],
    ['sources not an array', { ...base, sources: { url: 'https://example.com/a' } }, '/sources'],
    ['source url ftp', withSource(base, { url: 'ftp://example.com/file' }), '/sources/0/url', /http/],
    ['source url javascript:', withSource(base, { url: 'javascript:alert(1)' }), '/sources/0/url'],
    ['source url relative', withSource(base, { url: '/news/article' }), '/sources/0/url'],
    ['source url mailto:', withSource(base, { url: 'mailto:press@example.com' }), '/sources/0/url'],
    ['source url over 2048 chars', withSource(base, { url: `https://example.com/${long(2030)}` }), '/sources/0/url'],
    ['source url missing', { ...base, sources: [{ title: 'No URL' }] }, '/sources/0/url', /required/],
    ['source publisher over 200 chars', withSource(base, { publisher: long(201) }), '/sources/0/publisher'],
    ['source title over 500 chars', withSource(base, { title: long(501) }), '/sources/0/title'],
    ['source language not a tag', withSource(base, { language: 'not a tag!!' }), '/sources/0/language', /BCP 47/],
    ['source quote over 2000 chars', withSource(base, { quote: long(2001) }), '/sources/0/quote'],
    ['source published_date 2022-02-30', withSource(base, { published_date: '2022-02-30' }), '/sources/0/published_date'],
    ['source unknown field', withSource(base, { author: 'Someone' }), '/sources/0/author', /not an accepted field/],
    ['second source url bad', {
      ...base, sources: [{ url: 'https://example.com/ok' }, { url: 'ftp://example.com/no' }]
    }, '/sources/1/url'],
    ['external_id empty', { ...base, external_id: '' }, '/external_id'],
    ['external_id over 200 chars', { ...base, external_id: long(201) }, '/external_id'],
    ['unknown body field', { ...base, colour: 'red' }, '/colour', /not an accepted field/],
    ['server-owned id', { ...base, id: randomUUID() }, '/id', /not an accepted field/],
    ['server-owned version', { ...base, version: 1 }, '/version'],
    ['server-owned created_at', { ...base, created_at: '2022-03-08T00:00:00Z' }, '/created_at'],
    ['server-owned updated_at', { ...base, updated_at: '2022-03-08T00:00:00Z' }, '/updated_at'],
    ['server-owned company', { ...base, company: { id: company.id, name: 'Amazon' } }, '/company'],
    ['NUL in service', { ...base, service: 'Prime\u0000Video' }, '/service', /NUL/],
    ['NUL in a nested source title', withSource(base, { title: 'A\u0000title' }), '/sources/0/title', /NUL/]
  ]

  for (const [label, payload, pointer, message] of cases) {
    await t.test(label, async (t) => {
      const res = await app.inject({ method: 'POST', url: '/v1/events', headers, payload })
      assertFieldError(t, res, pointer, '/v1/events', message)
    })
  }

  const list = await app.inject({ url: '/v1/events' })
  t.same(list.json().data, [], 'no refused body stored an event')
})

t.test('POST /v1/events accepts the edges of every rule', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const base = validEvent(company.id)

  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['leap day 2024-02-29', { ...base, date: '2024-02-29' }, { date: '2024-02-29' }],
    ['month precision on the 1st', { ...base, date_precision: 'month', date: '2022-03-01' }, { date_precision: 'month', date: '2022-03-01' }],
    ['year precision on Jan 1', { ...base, date_precision: 'year', date: '2022-01-01' }, { date_precision: 'year', date: '2022-01-01' }],
    ['day precision on any date', { ...base, date_precision: 'day', date: '2022-03-31' }, { date_precision: 'day' }],
    ['a subdivision code in lower case', { ...base, region: 'ru-mow' }, { region: 'RU-MOW' }],
    ['service of 200 chars', { ...base, service: long(200) }, { service: long(200) }],
    ['summary of 2000 chars', { ...base, summary: long(2000) }, { summary: long(2000) }],
    ['20 sources', {
      ...base, sources: Array.from({ length: 20 }, (_, i) => ({ url: `https://example.com/edge/${randomUUID()}/${i}` }))
    }, {}],
    ['external_id of 200 chars', { ...base, external_id: long(200) }, { external_id: long(200) }],
    ['nullable fields given as null', { ...base, effective_date: null, summary: null, external_id: null }, { effective_date: null, summary: null, external_id: null }],
    ['a source at every limit', withSource(base, {
      publisher: long(200), title: long(500), quote: long(2000), language: 'zh-Hant-TW', published_date: '2024-02-29'
    }), {}],
    ['a source url of 2048 chars', withSource(base, { url: `https://example.com/${long(2048 - 'https://example.com/'.length)}` }), {}],
    ['an http source url', withSource(base, { url: 'http://example.com/plain' }), {}],
    ['text beyond the BMP', { ...base, service: 'Службы 🚚', summary: 'Amazon arrête les livraisons 🇷🇺' }, { service: 'Службы 🚚' }]
  ]
  for (const [label, payload, expected] of cases) {
    await t.test(label, async (t) => {
      const res = await app.inject({ method: 'POST', url: '/v1/events', headers, payload })
      assertStatus(t, res, 201)
      t.match(res.json(), expected)
    })
  }
  const list = await app.inject({ url: '/v1/events?limit=200' })
  t.equal(list.json().data.length, cases.length, 'every accepted body stored one event')
})

t.test('POST /v1/events refuses bodies that are not storable JSON objects', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const raw = (payload: string, contentType = 'application/json', extra: Record<string, string> = headers) =>
    app.inject({ method: 'POST', url: '/v1/events', headers: { ...extra, 'content-type': contentType }, payload })
  const valid = JSON.stringify(validEvent(company.id))

  // A lone surrogate in the raw JSON text parses into a string Postgres would silently alter.
  const surrogate = await raw(valid.replace('"Retail shipping"', '"Retail \\ud800 shipping"'))
  assertFieldError(t, surrogate, '/service', '/v1/events', /surrogate/)
  const nestedSurrogate = await raw(valid.replace(/"sources":\[\{/, '"sources":[{"title":"\\udfff",'))
  assertFieldError(t, nestedSurrogate, '/sources/0/title', '/v1/events')
  const nul = await raw(valid.replace('"Retail shipping"', '"Retail\\u0000shipping"'))
  assertFieldError(t, nul, '/service', '/v1/events', /NUL/)
  // A properly paired surrogate (an emoji written as escapes) is fine.
  const paired = await raw(valid.replace('"Retail shipping"', '"Retail \\ud83d\\ude9a"'))
  assertStatus(t, paired, 201)
  t.equal(paired.json().service, 'Retail 🚚')

  const malformed: [string, string][] = [
    ['truncated JSON', '{"region":'], ['not JSON at all', 'region=RU'], ['an empty body', ''], ['trailing garbage', `${valid} x`]
  ]
  for (const [label, payload] of malformed) {
    await t.test(label, async (t) => {
      assertProblem(t, await raw(payload), 400, '/problems/validation-error', '/v1/events')
    })
  }
  const notObjects: [string, string][] = [['an array', '[]'], ['a string', '"event"'], ['null', 'null'], ['a number', '5']]
  for (const [label, payload] of notObjects) {
    await t.test(label, async (t) => {
      const res = await raw(payload)
      assertProblem(t, res, 400, '/problems/validation-error', '/v1/events')
      t.equal(res.json().code, 'APP_VALIDATION')
    })
  }

  const tooLarge = await raw(JSON.stringify({ ...validEvent(company.id), summary: long(1024 * 1024 + 10) }))
  assertProblem(t, tooLarge, 413, '/problems/payload-too-large', '/v1/events')
  const anonymousLarge = await raw(JSON.stringify({ summary: long(1024 * 1024 + 10) }), 'application/json', {})
  assertProblem(t, anonymousLarge, 401, '/problems/unauthorized', '/v1/events')

  const textPlain = await raw(valid, 'text/plain')
  assertProblem(t, textPlain, 415, '/problems/unsupported-media-type', '/v1/events')
  const form = await raw('region=RU', 'application/x-www-form-urlencoded')
  assertProblem(t, form, 415, '/problems/unsupported-media-type', '/v1/events')

  const withCharset = await raw(valid, 'application/json; charset=utf-8')
  assertStatus(t, withCharset, 201, 'application/json with a charset is accepted')

  const list = await app.inject({ url: '/v1/events' })
  t.equal(list.json().data.length, 2, 'only the two valid bodies were stored')
})

t.test('PATCH /v1/events/{id} validates like POST', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const event = await createEvent(app, { date: '2022-03-15' })
  const goneId = await deletedCompany(app, headers)
  const url = `/v1/events/${event.id}`

  const cases: [string, Record<string, unknown>, string, RegExp?][] = [
    ['region XX', { region: 'XX' }, '/region', /unknown region code/],
    ['service blank', { service: ' ' }, '/service'],
    ['service a number', { service: 5 }, '/service'],
    ['action leave', { action: 'leave' }, '/action'],
    ['date 2022-02-30', { date: '2022-02-30' }, '/date'],
    ['date_precision year on a mid-month date', { date_precision: 'year' }, '/date'],
    ['date not on the 1st with month precision', { date_precision: 'month', date: '2022-03-02' }, '/date'],
    ['effective_date invalid', { effective_date: '2022-13-01' }, '/effective_date'],
    ['summary over 2000 chars', { summary: long(2001) }, '/summary'],
    ['sources empty', { sources: [] }, '/sources'],
    ['source url javascript:', { sources: [{ url: 'javascript:alert(1)' }] }, '/sources/0/url'],
    ['external_id empty', { external_id: '' }, '/external_id'],
    ['company_id of a deleted company', { company_id: goneId }, '/company_id'],
    ['server-owned version', { version: 5 }, '/version'],
    ['server-owned id', { id: randomUUID() }, '/id'],
    ['server-owned company', { company: { name: 'Other' } }, '/company'],
    ['NUL in a nested source title', { sources: [{ url: 'https://example.com/n', title: 'a\u0000b' }] }, '/sources/0/title']
  ]
  for (const [label, payload, pointer, message] of cases) {
    await t.test(label, async (t) => {
      const res = await app.inject({
        method: 'PATCH', url, headers: { ...headers, 'content-type': 'application/merge-patch+json' }, payload: JSON.stringify(payload)
      })
      assertFieldError(t, res, pointer, url, message)
    })
  }
  const after = await app.inject({ url })
  t.match(after.json(), { version: 1, date: '2022-03-15', region: 'RU' }, 'no refused patch changed the event')
})
