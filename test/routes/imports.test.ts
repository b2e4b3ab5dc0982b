import { Readable } from 'node:stream'
import { sql } from 'drizzle-orm'
import t from 'tap'
import type { App } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

const NDJSON = 'application/x-ndjson'

async function postImport (app: App, headers: Record<string, string>, body: string | Buffer | Readable, contentType = NDJSON, query = '') {
  return app.inject({ method: 'POST', url: `/v1/imports${query}`, headers: { ...headers, 'content-type': contentType }, payload: body })
}

async function outcome (app: App, id: string, query = '') {
  const res = await app.inject({ url: `/v1/imports/${id}${query}` })
  return res.json()
}

const line = (overrides: Record<string, unknown>) => JSON.stringify({
  region: 'RU', service: 'All operations', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://news.example.com/a' }], ...overrides
})

const countOf = async (app: App, query: string) => (await queryRows<{ n: number }>(app.db, sql.raw(query)))[0]!.n

t.test('NDJSON: companies by id and by name and country, created and matched; upsert on external_id', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const known = await createCompany(app, { name: 'Known Co', country: 'DE' })
  const body = [
    line({ company_id: known.id, external_id: 'x-1', summary: 'first' }),
    line({ company: { name: 'New Co', country: 'fr', sector: 'Retail' }, external_id: 'x-2' }),
    line({ company: { name: 'known co', country: 'DE' }, external_id: 'x-3', sources: [{ url: 'https://news.example.com/b', quote: 'q' }] }),
    line({ company: { name: 'New Co', country: 'FR' } })
  ].join('\n') + '\n'
  const res = await postImport(app, headers, body)
  t.equal(res.statusCode, 202)
  t.match(res.json(), { status: 'done' })
  t.equal(res.headers.location, `/v1/imports/${res.json().id}`)
  const first = await outcome(app, res.json().id)
  t.match(first, { status: 'done', format: 'ndjson', mode: 'partial', counts: { created: 4, updated: 0, unchanged: 0, rejected: 0 }, progress: { lines_done: 4, lines_total: 4 }, errors: [] })
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM companies WHERE name = 'New Co'"), 1, 'one company created, then matched')
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM companies WHERE lower(name) = 'known co'"), 1, 'matched by name ignoring case')
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM revisions WHERE resource_type = 'event' AND operation = 'created'"), 4)
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM revisions WHERE resource_type = 'company' AND operation = 'created'"), 2)
  const listed = (await app.inject({ url: '/v1/events?company=known%20co' })).json()
  t.equal(listed.data.length, 2)
  const x3 = listed.data.find((e: { external_id: string }) => e.external_id === 'x-3')
  t.match(x3, { company_id: known.id, sources: [{ url: 'https://news.example.com/b', quote: 'q' }], version: 1 })

  const again = await postImport(app, headers, [
    line({ company_id: known.id, external_id: 'x-1', summary: 'second' }),
    line({ company: { name: 'New Co', country: 'FR' }, external_id: 'x-2' }),
    line({ company: { name: 'Known Co', country: 'DE' }, external_id: 'x-3', sources: [{ url: 'https://news.example.com/b' }] })
  ].join('\n'))
  t.match(await outcome(app, again.json().id), { status: 'done', counts: { created: 0, updated: 2, unchanged: 1, rejected: 0 } })
  const x1 = (await app.inject({ url: '/v1/events?q=second' })).json().data[0]
  t.match(x1, { external_id: 'x-1', summary: 'second', version: 2 })
  const history = (await app.inject({ url: `/v1/events/${x1.id}/revisions` })).json()
  t.same(history.data.map((r: { operation: string }) => r.operation), ['created', 'updated'])
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM revisions WHERE resource_type = 'event'"), 6, 'none for the unchanged line')
})

t.test('imported events are recorded as GET shows them, and searchable by their summaries and their sources as stored', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const known = await createCompany(app, { name: 'Known Co', country: 'DE' })
  // A source stored first keeps its title: a line's other title neither shows nor is searched.
  await createEvent(app, { company_id: known.id, sources: [{ url: 'https://news.example.com/stored', title: 'Walrus report', publisher: 'First' }] })
  const lines = (summary: string) => [
    line({
      company: { name: 'KNOWN CO', country: 'DE' },
      external_id: 'h-1',
      summary,
      sources: [
        { url: 'https://news.example.com/stored', title: 'Narwhal report', language: 'en', quote: 'said the chair' },
        { url: 'https://news.example.com/fresh', title: 'Kangaroo report', kind: 'media_report' }
      ]
    }),
    line({ company: { name: 'Another Co', country: 'FR' }, external_id: 'h-2', summary: `${summary} encore`, sources: [{ url: 'https://news.example.com/other', title: 'Platypus report' }] })
  ].join('\n')
  const asRecorded = async (external: string) => {
    const current = (await app.inject({ url: '/v1/events?limit=200' })).json().data.find((e: { external_id: string }) => e.external_id === external)
    const recorded = await app.inject({ url: `/v1/events/${current.id}?known_at=${new Date(Date.now() + 1000).toISOString()}` })
    t.equal(recorded.statusCode, 200)
    t.same(recorded.json(), current, `${external} is recorded as GET shows it`)
    return current
  }
  // The imported events that match, without the one created to store the source first.
  const found = async (q: string) => (await app.inject({ url: `/v1/events?q=${q}` })).json().data
    .flatMap((e: { external_id: string | null }) => e.external_id === null ? [] : [e.external_id]).sort()

  t.match(await outcome(app, (await postImport(app, headers, lines('Zebras crossed'))).json().id), { counts: { created: 2 } })
  t.match(await asRecorded('h-1'), { company: { id: known.id, name: 'Known Co' }, version: 1, sources: [{ title: 'Walrus report', publisher: 'First', language: 'en', quote: 'said the chair' }, { title: 'Kangaroo report', kind: 'media_report' }] })
  await asRecorded('h-2')
  t.same(await found('zebras'), ['h-1', 'h-2'])
  t.same(await found('walrus'), ['h-1'], 'the stored title')
  t.same(await found('narwhal'), [], 'not the line\'s other title')
  t.same(await found('kangaroo'), ['h-1'])
  t.same(await found('platypus'), ['h-2'])
  t.same(await found('chair'), ['h-1'], 'the quote')

  t.match(await outcome(app, (await postImport(app, headers, lines('Giraffes ran'))).json().id), { counts: { updated: 2 } })
  t.match(await asRecorded('h-1'), { summary: 'Giraffes ran', version: 2 })
  t.match(await asRecorded('h-2'), { version: 2 })
  t.same(await found('giraffes'), ['h-1', 'h-2'])
  t.same(await found('zebras'), [])
})

t.test('a title an import gives a stored source is searched in every event citing it, imported or not', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const known = await createCompany(app, { name: 'Known Co', country: 'DE' })
  const untitled = await createEvent(app, { company_id: known.id, sources: [{ url: 'https://news.example.com/untitled', quote: 'a quote' }] })
  const found = async (q: string) => (await app.inject({ url: `/v1/events?q=${q}` })).json().data.map((e: { id: string }) => e.id).sort()
  t.same(await found('ocelot'), [])

  const created = await postImport(app, headers, line({ company_id: known.id, external_id: 't-1', sources: [{ url: 'https://news.example.com/untitled', title: 'Ocelot dossier' }] }))
  t.match(await outcome(app, created.json().id), { counts: { created: 1 } })
  const imported = (await app.inject({ url: '/v1/events?limit=200' })).json().data.find((e: { external_id: string }) => e.external_id === 't-1')
  t.same(await found('ocelot'), [untitled.id, imported.id].sort(), 'the event created before the import finds the title too')

  // An update that cites a second untitled source gives it a title: the event citing it before is found by it.
  const other = await createEvent(app, { company_id: known.id, service: 'Prime Video', sources: [{ url: 'https://news.example.com/second' }] })
  const updated = await postImport(app, headers, line({
    company_id: known.id, external_id: 't-1', sources: [{ url: 'https://news.example.com/second', title: 'Lynx bulletin' }]
  }))
  t.match(await outcome(app, updated.json().id), { counts: { updated: 1 } })
  t.same(await found('lynx'), [other.id, imported.id].sort())
  t.same(await found('ocelot'), [untitled.id], 'the updated event no longer cites the first source')
})

t.test('rejected lines are reported with line, field and message; counts add up', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const body = [
    line({ company_id: company.id }),
    '{"region": "RU",',
    line({ company_id: company.id, region: 'XX' }),
    line({ company_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e' }),
    '',
    line({ company_id: company.id, external_id: 'dup' }),
    line({ company_id: company.id, external_id: 'dup' }),
    line({ region: 'RU' }),
    line({ company_id: company.id, date_precision: 'month', date: '2022-03-08' }),
    '[1]',
    line({ company_id: company.id, sources: [{ url: 'https://a.example/x' }, { url: 'https://A.example/x#frag' }] }),
    line({ company_id: company.id, unknown: 1 }),
    line({ company_id: company.id, service: 'nul\u0000' })
  ].join('\n')
  const res = await postImport(app, headers, body)
  t.equal(res.statusCode, 202)
  const result = await outcome(app, res.json().id)
  t.match(result, { status: 'done', counts: { created: 2, updated: 0, unchanged: 0, rejected: 11 }, progress: { lines_done: 13, lines_total: 13 } })
  const c = result.counts
  t.equal(c.created + c.updated + c.unchanged + c.rejected, 13)
  t.match(result.errors, [
    { line: 2, field: '', message: /not valid JSON/ },
    { line: 3, field: '/region', message: "unknown region code 'XX'" },
    { line: 4, field: '/company_id', message: /existing company/ },
    { line: 5, field: '', message: /empty/ },
    { line: 7, field: '/external_id', message: 'duplicate of line 6' },
    { line: 8, field: '/company_id', message: /required/ },
    { line: 9, field: '/date', message: /first day of its month/ },
    { line: 10, field: '', message: /JSON object/ },
    { line: 11, field: '/sources/1/url', message: /same document/ },
    { line: 12, field: '/unknown', message: /not an accepted field/ },
    { line: 13, field: '/service', message: /NUL/ }
  ])
  const paged = await outcome(app, res.json().id, '?limit=4')
  t.equal(paged.errors.length, 4)
  const next = await outcome(app, res.json().id, `?limit=4&cursor=${paged.errors_next_cursor}`)
  t.same(next.errors.map((e: { line: number }) => e.line), [7, 8, 9, 10])
})

t.test('CSV: fixed columns, empty cells null, bad rows rejected by record number (header not counted)', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app, { name: 'Csv Co', country: 'US' })
  const csv = [
    'company_id,company_name,company_country,region,service,action,date,summary,external_id,source_urls',
    `${company.id},,,ru,Stores,suspend,2022-03-01,"Closed stores,\nthen more",c-1,https://a.example/1 https://a.example/2`,
    ',Csv Co,US,RU,Online,exit,2022-04-01,,c-2,https://a.example/3',
    ',Fresh Co,,RU,Online,exit,2022-04-01,,,https://a.example/4',
    ',Csv Co,US,RU,Online,exit,2022-04-01,,c-3',
    ',Csv Co,US,RU,Online,leave,2022-04-01,,c-4,https://a.example/5',
    ',Csv Co,US,RU,Online,exit,2022-04-01,,c-5,'
  ].join('\r\n') + '\r\n'
  const res = await postImport(app, headers, csv, 'text/csv')
  t.equal(res.statusCode, 202)
  const result = await outcome(app, res.json().id)
  t.match(result, { status: 'done', format: 'csv', counts: { created: 3, updated: 0, unchanged: 0, rejected: 3 }, progress: { lines_total: 6 } })
  t.match(result.errors, [
    { line: 4, field: '', message: 'has 9 cells; the header has 10' },
    { line: 5, field: '/action', message: /must be equal to one of the allowed values/ },
    { line: 6, field: '/source_urls', message: /fewer than 1/ }
  ])
  const events = (await app.inject({ url: '/v1/events?company=csv%20co&sort=date' })).json().data
  t.equal(events.length, 2)
  t.match(events[0], { external_id: 'c-1', region: 'RU', summary: 'Closed stores,\nthen more', source_count: 2, effective_date: null })
  t.equal(events[1].company_id, company.id, 'company_name and company_country matched the existing company')
  // An export imports back: same events, nothing changes.
  const exported = await app.inject({ url: '/v1/events?company=csv%20co', headers: { accept: 'text/csv' } })
  const back = await postImport(app, headers, exported.body, 'text/csv; charset=utf-8')
  t.match(await outcome(app, back.json().id), { counts: { created: 0, updated: 0, unchanged: 2, rejected: 0 } })
})

t.test('CSV header problems and syntax errors', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const unknown = await postImport(app, headers, 'region,service,action,date,source_urls,colour\r\n', 'text/csv')
  t.equal(unknown.statusCode, 400)
  t.match(unknown.json(), { code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: '/header/colour' }] })
  const missing = await postImport(app, headers, 'region,service,action,date,source_urls\r\n', 'text/csv')
  t.match(missing.json(), { status: 400, errors: [{ pointer: '/header/company_id' }] })
  const empty = await postImport(app, headers, '', 'text/csv')
  t.match(empty.json(), { status: 400, errors: [{ pointer: '/header' }] })
  const company = await createCompany(app)
  const csvHeader = 'company_id,region,service,action,date,source_urls'
  const badQuote = await postImport(app, headers, [
    csvHeader,
    `${company.id},RU,A,exit,2022-03-01,https://a.example/1`,
    `${company.id},RU,"B"x,exit,2022-03-01,https://a.example/2`
  ].join('\r\n'), 'text/csv')
  t.equal(badQuote.statusCode, 202)
  t.match(await outcome(app, badQuote.json().id), {
    status: 'done', counts: { created: 1, rejected: 1 }, errors: [{ line: 2, field: '', message: /not valid CSV: Invalid Closing Quote/ }]
  })
  // An unclosed quote takes the rest of the body into its record: one record, rejected, and nothing after it.
  const unclosed = await postImport(app, headers, [
    csvHeader,
    `${company.id},RU,C,exit,2022-03-01,https://a.example/3`,
    `${company.id},RU,"D,exit,2022-03-01,https://a.example/4`,
    `${company.id},RU,E,exit,2022-03-01,https://a.example/5`
  ].join('\r\n'), 'text/csv')
  t.match(await outcome(app, unclosed.json().id), {
    status: 'done', counts: { created: 1, rejected: 1 }, progress: { lines_total: 2 }, errors: [{ line: 2, field: '', message: /Quote Not Closed/ }]
  })
})

t.test('CSV bodies of stray quotes answer at once, and say where reading stopped', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  // csv-parse fails once per stray quote, quoting the record read so far: a header of them was a 500 after seconds.
  const quotedHeader = await postImport(app, headers, '{"a":'.repeat(100_000) + 'null' + '}'.repeat(100_000), 'text/csv')
  t.equal(quotedHeader.statusCode, 400)
  t.match(quotedHeader.json(), { code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: '/header', message: /^cannot be read: Invalid Opening Quote/ }] })
  t.ok(quotedHeader.body.length < 2000, 'one error, not one per quote')
  const longName = await postImport(app, headers, '['.repeat(1000) + ']'.repeat(1000), 'text/csv')
  t.equal(longName.statusCode, 400)
  t.equal(longName.json().errors[0].pointer, `/header/${'['.repeat(99)}…`, 'a column name is cut short where it is echoed')

  const company = await createCompany(app)
  const valid = (n: number) => `${company.id},RU,S${n},exit,2022-03-01,https://a.example/${n}`
  const res = await postImport(app, headers, [
    'company_id,region,service,action,date,source_urls', valid(1), valid(2), '{"a":'.repeat(100_000), valid(3)
  ].join('\r\n'), 'text/csv')
  t.equal(res.statusCode, 202)
  const result = await outcome(app, res.json().id)
  t.match(result, { status: 'done', counts: { created: 2, rejected: 1 }, progress: { lines_total: 3 } })
  t.match(result.errors, [{ line: 3, field: '', message: /^is not valid CSV: Invalid Opening Quote.*the parser stopped after 20 errors in this record, so the rest of the body was not read$/ }])
})

t.test('bytes that are not UTF-8 reject their line, wherever the chunks of the body break', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const notUtf8 = Buffer.from([0xc3, 0x28])
  // Chunks that break inside lines and inside a two-byte character (é is c3 a9).
  const ndjson = Buffer.concat([
    Buffer.from(line({ company_id: company.id, service: 'Café A' }) + '\n'),
    Buffer.from(line({ company_id: company.id, service: 'Bad X' }).replace('X', 'X' + notUtf8.toString('latin1')), 'latin1'),
    Buffer.from('\n' + line({ company_id: company.id, service: 'Café B' }))
  ])
  const cut = ndjson.indexOf(Buffer.from('é B')) + 1
  const chunks = [ndjson.subarray(0, 40), ndjson.subarray(40, cut), ndjson.subarray(cut)]
  const res = await postImport(app, headers, Readable.from(chunks))
  const result = await outcome(app, res.json().id)
  t.match(result, { status: 'done', counts: { created: 2, rejected: 1 }, errors: [{ line: 2, field: '', message: 'is not valid UTF-8' }] })
  const services = (await app.inject({ url: `/v1/events?company_id=${company.id}` })).json().data.map((e: { service: string }) => e.service)
  t.same(services.sort(), ['Café A', 'Café B'], 'the valid lines read back unchanged')

  const csv = Buffer.concat([
    Buffer.from('\uFEFFcompany_id,region,service,action,date,source_urls\r\n'),
    Buffer.from(`${company.id},RU,Bad `), notUtf8, Buffer.from(',exit,2022-03-01,https://a.example/1\r\n'),
    Buffer.from(`${company.id},RU,Café C,exit,2022-03-01,https://a.example/2\r\n`)
  ])
  const csvResult = await outcome(app, (await postImport(app, headers, csv, 'text/csv')).json().id)
  t.match(csvResult, { status: 'done', counts: { created: 1, rejected: 1 }, errors: [{ line: 1, field: '/service', message: 'is not valid UTF-8' }] })
  const badHeader = await postImport(app, headers, Buffer.concat([Buffer.from('company_id,region,'), notUtf8]), 'text/csv')
  t.match(badHeader.json(), { status: 400, errors: [{ pointer: '/header', message: 'is not valid UTF-8' }] })

  // A byte order mark before the first NDJSON line is dropped, even split across chunks; elsewhere it is not JSON.
  const withBom = Buffer.from('\uFEFF' + line({ company_id: company.id, service: 'Marked' }) + '\n\uFEFF' + line({ company_id: company.id }) + '\n')
  const bomResult = await outcome(app, (await postImport(app, headers, Readable.from([withBom.subarray(0, 2), withBom.subarray(2)]))).json().id)
  t.match(bomResult, { counts: { created: 1, rejected: 1 }, errors: [{ line: 2, field: '', message: /^is not valid JSON/ }] })
})

t.test('atomic: one rejected line and nothing lands; partial: the valid lines land', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const body = [line({ company_id: company.id, external_id: 'a-1' }), line({ company: { name: 'Atomic New', country: 'GB' } }), line({ company_id: company.id, action: 'nope' })].join('\n')
  const atomic = await postImport(app, headers, body, NDJSON, '?mode=atomic')
  t.equal(atomic.statusCode, 202)
  t.match(atomic.json(), { status: 'failed' })
  t.match(await outcome(app, atomic.json().id), {
    status: 'failed', mode: 'atomic', counts: { created: 0, updated: 0, unchanged: 2, rejected: 1 }, errors: [{ line: 3, field: '/action' }]
  })
  t.equal(await countOf(app, 'SELECT count(*)::int AS n FROM events'), 0)
  t.equal(await countOf(app, "SELECT count(*)::int AS n FROM companies WHERE name = 'Atomic New'"), 0)
  t.equal(await countOf(app, 'SELECT count(*)::int AS n FROM revisions WHERE resource_type = \'event\''), 0)

  const good = await postImport(app, headers, body.split('\n').slice(0, 2).join('\n'), NDJSON, '?mode=atomic')
  t.match(await outcome(app, good.json().id), { status: 'done', counts: { created: 2, rejected: 0 } })

  const partial = await postImport(app, headers, [line({ company_id: company.id, external_id: 'p-1' }), line({ company_id: company.id, action: 'nope' })].join('\n'))
  t.match(await outcome(app, partial.json().id), { status: 'done', counts: { created: 1, rejected: 1 } })
  t.equal(await countOf(app, 'SELECT count(*)::int AS n FROM events'), 3)
})

t.test('media types, query parameters, scopes and unknown imports', async (t) => {
  const app = await buildTestApp(t)
  const writer = await authHeader(app)
  const reader = await authHeader(app, ['read'])
  const json = await app.inject({ method: 'POST', url: '/v1/imports', headers: writer, payload: { region: 'RU' } })
  t.equal(json.statusCode, 415)
  t.match(json.headers['content-type'], /^application\/problem\+json/)
  const plain = await postImport(app, writer, 'x', 'text/plain')
  t.equal(plain.statusCode, 415)
  t.match(plain.json(), { errors: [{ in: 'headers', pointer: '/content-type', message: 'must be application/x-ndjson or text/csv' }] })
  // The body is read as UTF-8: another declared charset would be misread, so it is refused; UTF-8 by name is fine.
  for (const type of ['text/csv; charset=iso-8859-1', 'application/x-ndjson; charset="UTF-16"']) {
    const res = await postImport(app, writer, 'x', type)
    t.equal(res.statusCode, 415, type)
    t.match(res.json(), { code: 'APP_UNSUPPORTED_CHARSET', errors: [{ in: 'headers', pointer: '/content-type' }] })
  }
  t.equal((await postImport(app, writer, '', 'application/x-ndjson; charset=UTF-8')).statusCode, 202)
  const badMode = await postImport(app, writer, '', NDJSON, '?mode=sometimes')
  t.match(badMode.json(), { status: 400, errors: [{ in: 'querystring', pointer: '/mode' }] })
  const badFormat = await postImport(app, writer, '', NDJSON, '?format=xml')
  t.match(badFormat.json(), { status: 400, errors: [{ in: 'querystring', pointer: '/format' }] })
  const mismatch = await postImport(app, writer, '', NDJSON, '?format=csv')
  t.match(mismatch.json(), { status: 400, errors: [{ pointer: '/format' }] })
  const noDate = await postImport(app, writer, 'name,grade\r\n', 'text/csv', '?format=yale-celi')
  t.match(noDate.json(), { status: 400, errors: [{ pointer: '/date' }] })
  // The dated copies imported as one list would give every copy's row the list's date, rewriting the dated history.
  const snapshotsAsList = await postImport(app, writer, 'snapshot_date,name,grade\r\n2022-07-30,Acme,A\r\n', 'text/csv', '?format=yale-celi&date=2025-05-21')
  t.match(snapshotsAsList.json(), { status: 400, errors: [{ in: 'body', pointer: '/header/snapshot_date', message: /format=yale-celi-snapshots/ }] })
  t.equal(await countOf(app, 'SELECT count(*)::int AS n FROM events'), 0, 'nothing imported')
  // Rejections name the columns as the header does.
  const yale = await postImport(app, writer, 'name,country,yaleGrade\r\nAcme,Narnia,A\r\nBeta,France,E\r\nGamma,France,A\r\n', 'text/csv', '?format=yale-celi&date=2025-05-21')
  t.match(await outcome(app, yale.json().id), {
    counts: { created: 1, rejected: 2 },
    errors: [{ line: 1, field: '/country', message: "'Narnia' is not a country of Yale's list" }, { line: 2, field: '/yaleGrade' }]
  })
  const typo = await postImport(app, writer, '', NDJSON, '?mdoe=atomic')
  t.match(typo.json(), { status: 400, errors: [{ pointer: '/mdoe' }] })
  t.equal((await postImport(app, {}, '', NDJSON)).statusCode, 401)
  t.equal((await postImport(app, reader, '', NDJSON)).statusCode, 403)
  const empty = await postImport(app, writer, '', NDJSON)
  t.equal(empty.statusCode, 202)
  t.match(await outcome(app, empty.json().id), { status: 'done', counts: { created: 0, rejected: 0 }, progress: { lines_done: 0, lines_total: 0 } })
  const missing = await app.inject({ url: '/v1/imports/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e' })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { code: 'APP_IMPORT_NOT_FOUND' })
  const badCursor = await app.inject({ url: `/v1/imports/${empty.json().id}?cursor=nonsense` })
  t.equal(badCursor.statusCode, 400)
})

t.test('a body over IMPORT_BODY_LIMIT_BYTES is a 413', async (t) => {
  const app = await buildTestApp(t, { IMPORT_BODY_LIMIT_BYTES: '2048' })
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const body = Array.from({ length: 40 }, (_, i) => line({ company_id: company.id, service: `S${i}` })).join('\n')
  const res = await postImport(app, headers, body)
  t.equal(res.statusCode, 413)
  t.match(res.json(), { status: 413, code: 'APP_PAYLOAD_TOO_LARGE' })
})
