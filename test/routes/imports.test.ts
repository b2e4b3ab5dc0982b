import { sql } from 'drizzle-orm'
import t from 'tap'
import type { App } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import { authHeader, buildTestApp, createCompany } from '../helper.js'

const NDJSON = 'application/x-ndjson'

async function postImport (app: App, headers: Record<string, string>, body: string, contentType = NDJSON, query = '') {
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
