import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import type { Company } from '../../src/schemas/companies.js'
import type { Event } from '../../src/schemas/events.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

type Query = Record<string, string>
type Field = 'action' | 'region' | 'sector' | 'country' | 'year' | 'month'
type Interval = 'month' | 'quarter' | 'year'
type GroupBy = 'action' | 'region' | 'sector'
interface FacetValue { value: string | null, count: number }
interface Bucket { period: string, start: string, counts: Record<string, number>, total: number }

const FIELDS: Field[] = ['action', 'region', 'sector', 'country', 'year', 'month']
const INTERVALS: Interval[] = ['month', 'quarter', 'year']
const GROUP_BYS: GroupBy[] = ['action', 'region', 'sector']

function assertOk (t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 200, `${what}: status`, { body: res.body })
  return res.json()
}

function assertQueryProblem (t: Test, res: LightMyRequestResponse, what: string, pointer?: string) {
  t.equal(res.statusCode, 400, `${what}: status`, { body: res.body })
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.match(res.json(), { status: 400, code: 'APP_VALIDATION', ...(pointer ? { errors: [{ in: 'querystring', pointer }] } : {}) }, `${what}: problem`)
}

const facets = (app: App, query: Query) => app.inject({ url: '/v1/events/facets', query })
const timeseries = (app: App, query: Query) => app.inject({ url: '/v1/events/timeseries', query })

/** Every event GET /v1/events returns under these filters, walking all its pages. */
async function listAll (t: Test, app: App, query: Query): Promise<Event[]> {
  const rows: Event[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const body: { data: Event[], next_cursor: string | null } = assertOk(t, await app.inject({
      url: '/v1/events', query: { ...query, limit: '4', ...(cursor ? { cursor } : {}) }
    }), `list page ${pages + 1} of ${JSON.stringify(query)}`)
    rows.push(...body.data)
    cursor = body.next_cursor
    pages++
  } while (cursor !== null && pages < 100)
  t.equal(new Set(rows.map((r) => r.id)).size, rows.length, 'the list walk has no repeats')
  return rows
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Counts per value, most frequent first, ties by value (null, for no sector or country, after the others). */
function countBy (values: Array<string | null>): FacetValue[] {
  const counts = new Map<string | null, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) =>
    b.count - a.count || (a.value === null ? 1 : b.value === null ? -1 : cmp(a.value, b.value)))
}

function fieldOf (e: Event, field: Field, companies: Map<string, Company>): string | null {
  switch (field) {
    case 'action': return e.action
    case 'region': return e.region
    case 'sector': return companies.get(e.company_id)!.sector
    case 'country': return companies.get(e.company_id)!.country
    case 'year': return e.date.slice(0, 4)
    case 'month': return e.date.slice(0, 7)
  }
}

/** The first day of the period holding a date, computed here independently of src/domain/periods.ts. */
function startOf (interval: Interval, date: string): string {
  const month = Number(date.slice(5, 7))
  const first = interval === 'month' ? month : interval === 'quarter' ? month - ((month - 1) % 3) : 1
  return `${date.slice(0, 4)}-${String(first).padStart(2, '0')}-01`
}
function labelOf (interval: Interval, start: string): string {
  if (interval === 'month') return start.slice(0, 7)
  if (interval === 'year') return start.slice(0, 4)
  return `${start.slice(0, 4)}-Q${Math.ceil(Number(start.slice(5, 7)) / 3)}`
}
function startsBetween (interval: Interval, from: string, to: string): string[] {
  const step = interval === 'month' ? 1 : interval === 'quarter' ? 3 : 12
  const out: string[] = []
  const months = (date: string) => Number(date.slice(0, 4)) * 12 + Number(date.slice(5, 7)) - 1
  const last = months(startOf(interval, to))
  for (let n = months(startOf(interval, from)); n <= last; n += step) {
    out.push(`${String(Math.floor(n / 12)).padStart(4, '0')}-${String(n % 12 + 1).padStart(2, '0')}-01`)
  }
  return out
}

function expectedSeries (rows: Event[], companies: Map<string, Company>, interval: Interval, groupBy: GroupBy, query: Query): Bucket[] {
  const dates = rows.map((e) => e.date).sort()
  const from = query.date_from ?? dates[0]
  const to = query.date_to ?? dates.at(-1)
  if (from === undefined || to === undefined) return []
  const groupOf = (e: Event) => groupBy === 'sector' ? (companies.get(e.company_id)!.sector ?? 'unknown') : e[groupBy]
  const groups = [...new Set(rows.map(groupOf))].sort()
  const buckets = new Map(startsBetween(interval, from, to).map((s) => [s, {
    period: labelOf(interval, s), start: s, counts: Object.fromEntries(groups.map((g) => [g, 0])), total: 0
  }]))
  for (const e of rows) {
    const b = buckets.get(startOf(interval, e.date))!
    b.counts[groupOf(e)]!++
    b.total++
  }
  return [...buckets.values()]
}

/** Facets and every time series under these filters agree with the list, count for count. */
async function assertConsistent (t: Test, app: App, companies: Map<string, Company>, query: Query, what: string) {
  const rows = await listAll(t, app, query)
  const got = assertOk(t, await facets(app, { ...query, fields: FIELDS.join(',') }), `facets ${what}`)
  t.same(Object.keys(got).sort(), [...FIELDS].sort(), `${what}: one key per requested field`)
  for (const field of FIELDS.filter((f) => Array.isArray(got[f]))) {
    t.equal(got[field].reduce((n: number, v: FacetValue) => n + v.count, 0), rows.length, `${what}: ${field} counts add up to the list total ${rows.length}`)
    t.same(got[field], countBy(rows.map((e) => fieldOf(e, field, companies))), `${what}: ${field} counts`)
  }
  for (const interval of INTERVALS) {
    for (const groupBy of GROUP_BYS) {
      const series = assertOk(t, await timeseries(app, { ...query, interval, group_by: groupBy }), `timeseries ${what}`)
      if (!Array.isArray(series.buckets)) continue
      t.equal(series.buckets.reduce((n: number, b: Bucket) => n + b.total, 0), rows.length, `${what}: ${interval}/${groupBy} totals add up`)
      t.same(series, { interval, group_by: groupBy, buckets: expectedSeries(rows, companies, interval, groupBy, query) },
        `${what}: ${interval}/${groupBy} buckets`)
    }
  }
  return rows
}

async function seed (app: App) {
  const companies = new Map<string, Company>()
  const company = async (fields: Parameters<typeof createCompany>[1]) => {
    const c = await createCompany(app, fields)
    companies.set(c.id, c)
    return c
  }
  const sg = await company({ name: 'Société Générale', aliases: ['SocGen'], country: 'FR', sector: 'Banking' })
  const amazon = await company({ name: 'Amazon', aliases: ['Амазон'], country: 'US', sector: 'Retail' })
  const ozon = await company({ name: 'Ozon', country: 'RU', sector: 'Retail' })
  const nameless = await company({ name: 'Nameless' })
  const events: Event[] = []
  const add = async (c: Company, region: string, service: string, action: Event['action'], date: string, extra: Partial<Parameters<typeof createEvent>[1]> = {}) => {
    const e = await createEvent(app, { company_id: c.id, region, service, action, date, ...extra })
    events.push(e)
    return e
  }
  await add(sg, 'RU', 'Retail banking', 'exit', '2022-04-11', { summary: 'The bank sold Rosbank.' })
  await add(sg, 'UA', 'Investment banking', 'scale_back', '2022-02-24')
  await add(amazon, 'RU', 'Retail shipping', 'suspend', '2022-03-08', { summary: 'The warehouse shipments stopped.' })
  await add(amazon, 'BY', 'Retail shipping', 'suspend', '2022-03-08')
  await add(amazon, 'RU', 'Prime Video', 'suspend', '2022-03-09')
  await add(amazon, 'RU', 'AWS new accounts', 'pause_new_business', '2022-03-01', { date_precision: 'month' })
  await add(amazon, 'UA-43', 'Retail shipping', 'exit', '2022-06-30')
  await add(amazon, 'RU', 'Retail shipping', 'resume', '2023-02-10', { summary: 'A new warehouse opened.' })
  await add(ozon, 'RU', 'Marketplace', 'continue', '2022-03-31')
  await add(ozon, 'BY', 'Marketplace', 'continue', '2022-01-01', { date_precision: 'year' })
  await add(ozon, 'UA-30', 'Marketplace', 'exit', '2021-12-31')
  await add(nameless, 'PL', 'All operations', 'exit', '2022-09-15')
  await add(nameless, 'RU', 'All operations', 'exit', '2022-09-15')
  await add(nameless, 'UA', 'All operations', 'suspend', '2023-01-01')
  return { companies, events, sg, amazon, ozon, nameless }
}

const FILTERS: Query[] = [
  {},
  { region: 'UA' },
  { region: 'UA-43' },
  { region: 'ru,by' },
  { region: 'UA-30,PL' },
  { action: 'exit' },
  { action: 'exit,suspend' },
  { company: 'amaz' },
  { company: 'societe' },
  { company: 'SOCGEN' },
  { company: 'амазон' },
  { service: 'retail' },
  { date_from: '2022-03-01', date_to: '2022-06-30' },
  { date_from: '2022-03-15', date_to: '2023-02-10' },
  { date_from: '2022-01-01', date_to: '2022-12-31' },
  { date_from: '2021-12-31', date_to: '2023-01-01' },
  { date_from: '2022-03-09' },
  { date_to: '2022-03-08' },
  { q: 'warehouse' },
  { region: 'UA', action: 'exit,suspend', date_from: '2022-01-01' },
  { region: 'RU', action: 'suspend', date_from: '2022-03-02', date_to: '2022-12-31' },
  { date_from: '2020-01-01', date_to: '2020-12-31' },
  { company: 'no such company' }
]

t.test('facets and time series add up to the list under every filter', async (t) => {
  const app = await buildTestApp(t)
  const { companies, amazon } = await seed(app)
  for (const query of FILTERS) await assertConsistent(t, app, companies, query, JSON.stringify(query))
  await assertConsistent(t, app, companies, { company_id: amazon.id }, 'company_id')
  await assertConsistent(t, app, companies, { company_id: amazon.id, region: 'RU', date_to: '2022-12-31' }, 'company_id, region, date_to')
})

t.test('facets: values, order and fields, pinned by hand', async (t) => {
  const app = await buildTestApp(t)
  const { amazon } = await seed(app)

  const all = assertOk(t, await facets(app, { fields: 'action,sector,country,year,month,region' }), 'all fields')
  t.same(all.action, [
    { value: 'exit', count: 5 }, { value: 'suspend', count: 4 }, { value: 'continue', count: 2 },
    { value: 'pause_new_business', count: 1 }, { value: 'resume', count: 1 }, { value: 'scale_back', count: 1 }
  ], 'action: by count, then by value')
  t.same(all.sector, [{ value: 'Retail', count: 9 }, { value: null, count: 3 }, { value: 'Banking', count: 2 }], 'sector: null for companies without one')
  t.same(all.country, [{ value: 'US', count: 6 }, { value: 'RU', count: 3 }, { value: null, count: 3 }, { value: 'FR', count: 2 }], 'country of the company')
  t.same(all.year, [{ value: '2022', count: 11 }, { value: '2023', count: 2 }, { value: '2021', count: 1 }], 'year')
  t.same(all.month.slice(0, 2), [{ value: '2022-03', count: 5 }, { value: '2022-09', count: 2 }], 'month: month-precision events count in their month')
  t.same(all.region, [
    { value: 'RU', count: 7 }, { value: 'BY', count: 2 }, { value: 'UA', count: 2 }, { value: 'PL', count: 1 }, { value: 'UA-30', count: 1 }, { value: 'UA-43', count: 1 }
  ], 'region: exact codes, subdivisions apart')

  const byDefault = assertOk(t, await facets(app, {}), 'default fields')
  t.same(Object.keys(byDefault).sort(), ['action', 'region', 'sector', 'year'], 'default fields: action, region, sector, year')
  const twice = assertOk(t, await facets(app, { fields: 'action,action' }), 'a repeated field')
  t.same(Object.keys(twice), ['action'], 'a repeated field is counted once')
  const none = assertOk(t, await facets(app, { fields: 'action,region', company: 'no such company' }), 'nothing matches')
  t.same(none, { action: [], region: [] }, 'no matching events: empty lists')
  const amazonRu = assertOk(t, await facets(app, { fields: 'action', company_id: amazon.id, region: 'RU' }), 'amazon RU')
  t.same(amazonRu.action, [{ value: 'suspend', count: 2 }, { value: 'pause_new_business', count: 1 }, { value: 'resume', count: 1 }])

  assertQueryProblem(t, await facets(app, { fields: 'action,colour' }), 'unknown field', '/fields')
  assertQueryProblem(t, await facets(app, { fields: '' }), 'empty fields', '/fields')
  assertQueryProblem(t, await facets(app, { fields: 'action,' }), 'trailing comma', '/fields')
  assertQueryProblem(t, await facets(app, { fields: 'Action' }), 'field names are lower case', '/fields')
  assertQueryProblem(t, await facets(app, { limit: '10' }), 'limit is not a facets parameter')
  assertQueryProblem(t, await facets(app, { sort: '-date' }), 'sort is not a facets parameter')
  assertQueryProblem(t, await facets(app, { region: 'XX' }), 'unknown region', '/region')
  assertQueryProblem(t, await facets(app, { action: 'leave' }), 'unknown action', '/action')
  assertQueryProblem(t, await facets(app, { date_from: '2022-05-01', date_to: '2022-04-01' }), 'date_from after date_to', '/date_to')
  assertQueryProblem(t, await facets(app, { company_id: 'not-a-uuid' }), 'bad company_id', '/company_id')
})

t.test('time series: labels, starts, empty periods and groups, pinned by hand', async (t) => {
  const app = await buildTestApp(t)
  await seed(app)

  const months = assertOk(t, await timeseries(app, { interval: 'month', group_by: 'action', date_from: '2022-02-15', date_to: '2022-05-01' }), 'months')
  const zeros = { continue: 0, exit: 0, pause_new_business: 0, scale_back: 0, suspend: 0 }
  t.same(months, {
    interval: 'month',
    group_by: 'action',
    buckets: [
      { period: '2022-02', start: '2022-02-01', counts: { ...zeros, scale_back: 1 }, total: 1 },
      { period: '2022-03', start: '2022-03-01', counts: { ...zeros, suspend: 3, pause_new_business: 1, continue: 1 }, total: 5 },
      { period: '2022-04', start: '2022-04-01', counts: { ...zeros, exit: 1 }, total: 1 },
      { period: '2022-05', start: '2022-05-01', counts: zeros, total: 0 }
    ]
  }, 'month buckets from the month of date_from to that of date_to; an empty month has zeros for every group')

  const quarters = assertOk(t, await timeseries(app, { interval: 'quarter', group_by: 'region', date_from: '2022-01-01', date_to: '2022-12-31' }), 'quarters')
  t.same(quarters.buckets.map((b: Bucket) => [b.period, b.start, b.total]),
    [['2022-Q1', '2022-01-01', 7], ['2022-Q2', '2022-04-01', 2], ['2022-Q3', '2022-07-01', 2], ['2022-Q4', '2022-10-01', 0]], 'quarter labels and starts')
  t.same(quarters.buckets[3].counts, { BY: 0, PL: 0, RU: 0, UA: 0, 'UA-43': 0 }, 'every region seen, zero in an empty quarter')

  const years = assertOk(t, await timeseries(app, { interval: 'year', group_by: 'sector' }), 'years')
  t.same(years.buckets, [
    { period: '2021', start: '2021-01-01', counts: { Banking: 0, Retail: 1, unknown: 0 }, total: 1 },
    { period: '2022', start: '2022-01-01', counts: { Banking: 2, Retail: 7, unknown: 2 }, total: 11 },
    { period: '2023', start: '2023-01-01', counts: { Banking: 0, Retail: 1, unknown: 1 }, total: 2 }
  ], 'without dates: from the first matching event to the last; no sector counts as "unknown"')

  const byDefault = assertOk(t, await timeseries(app, { region: 'PL' }), 'defaults')
  t.same(byDefault, { interval: 'month', group_by: 'action', buckets: [{ period: '2022-09', start: '2022-09-01', counts: { exit: 1 }, total: 1 }] },
    'interval month and group_by action by default')

  const emptyRange = assertOk(t, await timeseries(app, { interval: 'quarter', date_from: '2020-02-01', date_to: '2020-08-01' }), 'empty range')
  t.same(emptyRange.buckets, [
    { period: '2020-Q1', start: '2020-01-01', counts: {}, total: 0 },
    { period: '2020-Q2', start: '2020-04-01', counts: {}, total: 0 },
    { period: '2020-Q3', start: '2020-07-01', counts: {}, total: 0 }
  ], 'no events in a given range: every period, empty')
  t.same(assertOk(t, await timeseries(app, { company: 'no such company' }), 'nothing').buckets, [], 'no events and no dates: no buckets')
  const onlyFrom = assertOk(t, await timeseries(app, { interval: 'year', date_from: '2019-06-01' }), 'only date_from')
  t.same(onlyFrom.buckets.map((b: Bucket) => b.period), ['2019', '2020', '2021', '2022', '2023'], 'from date_from to the last event')
  const onlyTo = assertOk(t, await timeseries(app, { interval: 'year', date_to: '2025-01-01' }), 'only date_to')
  t.same(onlyTo.buckets.map((b: Bucket) => b.period), ['2021', '2022', '2023', '2024', '2025'], 'from the first event to date_to')

  // The range limit: 5000 periods at most.
  const most = assertOk(t, await timeseries(app, { interval: 'month', date_from: '2000-01-01', date_to: '2416-08-31' }), '5000 months')
  t.equal(most.buckets.length, 5000, 'exactly 5000 months are allowed')
  t.equal(most.buckets.at(-1).period, '2416-08')
  assertQueryProblem(t, await timeseries(app, { interval: 'month', date_from: '2000-01-01', date_to: '2416-09-01' }), '5001 months')
  assertQueryProblem(t, await timeseries(app, { interval: 'month', date_from: '1500-01-01', date_to: '2022-12-31' }), 'six centuries of months')
  assertQueryProblem(t, await timeseries(app, { interval: 'quarter', date_from: '0900-01-01', date_to: '2300-01-01' }), '5600 quarters')
  t.equal(assertOk(t, await timeseries(app, { interval: 'year', date_from: '1500-01-01', date_to: '2022-12-31' }), 'years').buckets.length, 523,
    'the same range in years is fine')

  assertQueryProblem(t, await timeseries(app, { interval: 'week' }), 'unknown interval', '/interval')
  assertQueryProblem(t, await timeseries(app, { group_by: 'country' }), 'unknown group_by', '/group_by')
  assertQueryProblem(t, await timeseries(app, { cursor: 'abc' }), 'cursor is not a time series parameter')
  assertQueryProblem(t, await timeseries(app, { date_from: '2022-05-01', date_to: '2022-04-30' }), 'date_from after date_to', '/date_to')
})

t.test('time series: events spanning more than 5000 periods without dates', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Old Trading Co' })
  await createEvent(app, { company_id: company.id, date: '1500-01-01', date_precision: 'year' })
  await createEvent(app, { company_id: company.id, date: '2022-03-08' })
  assertQueryProblem(t, await timeseries(app, {}), 'months from 1500 to 2022')
  const years = assertOk(t, await timeseries(app, { interval: 'year' }), 'years')
  t.equal(years.buckets.length, 523, 'years from 1500 to 2022')
  t.same([years.buckets[0].counts, years.buckets[1].counts, years.buckets.at(-1).counts], [{ exit: 1 }, { exit: 0 }, { exit: 1 }])
})

t.test('deleted and changed events and companies: facets and time series follow', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const { companies, events, amazon, nameless } = await seed(app)

  const before = assertOk(t, await facets(app, { fields: 'action', region: 'RU' }), 'before')
  const del = async (e: Event) => {
    const res = await app.inject({ method: 'DELETE', url: `/v1/events/${e.id}`, headers })
    t.equal(res.statusCode, 204, 'delete', { body: res.body })
  }
  await del(events[0]!) // Société Générale RU exit 2022-04-11
  await del(events[4]!) // Amazon RU suspend 2022-03-09
  const after = assertOk(t, await facets(app, { fields: 'action', region: 'RU' }), 'after')
  t.same(after.action, before.action.map((v: FacetValue) => ({ ...v, count: v.count - (v.value === 'exit' || v.value === 'suspend' ? 1 : 0) }))
    .sort((a: FacetValue, b: FacetValue) => b.count - a.count || cmp(a.value!, b.value!)), 'deleted events no longer count')
  const march = assertOk(t, await timeseries(app, { region: 'RU', date_from: '2022-03-01', date_to: '2022-03-31' }), 'march')
  t.same(march.buckets[0].counts, { continue: 1, pause_new_business: 1, suspend: 1 }, 'nor in the time series')

  const patch = async (url: string, payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'PATCH', url, headers, payload })
    t.equal(res.statusCode, 200, `patch ${url}`, { body: res.body })
    return res.json()
  }
  await patch(`/v1/events/${events[2]!.id}`, { date: '2024-07-15', action: 'exit', region: 'KZ' })
  await patch(`/v1/events/${events[9]!.id}`, { date: '2019-01-01' })
  await patch(`/v1/events/${events[11]!.id}`, { company_id: amazon.id })
  companies.set(nameless.id, await patch(`/v1/companies/${nameless.id}`, { sector: 'Logistics', country: 'GB' }))
  companies.set(amazon.id, await patch(`/v1/companies/${amazon.id}`, { sector: null }))

  for (const query of FILTERS) await assertConsistent(t, app, companies, query, `after changes ${JSON.stringify(query)}`)
  const sectors = assertOk(t, await facets(app, { fields: 'sector,country' }), 'sectors after changes')
  t.same(sectors.sector, [{ value: null, count: 6 }, { value: 'Logistics', count: 2 }, { value: 'Retail', count: 3 }, { value: 'Banking', count: 1 }]
    .sort((a, b) => b.count - a.count), 'a company\'s new sector counts for its events')
  t.match(sectors.country, [{ value: 'US', count: 6 }], 'an event moved to another company counts for that company\'s country')
})

t.test('the last representable dates still count', async (t) => {
  const app = await buildTestApp(t)
  const companies = new Map<string, Company>()
  const acme = await createCompany(app, { name: 'Acme', sector: 'Retail', country: 'US' })
  companies.set(acme.id, acme)
  for (const [date, action] of [['9998-11-30', 'suspend'], ['9999-06-15', 'exit'], ['9999-12-01', 'resume'], ['9999-12-31', 'exit']] as const) {
    await createEvent(app, { company_id: acme.id, date, action })
  }
  const late: Query[] = [
    { date_from: '9999-12-02' }, { date_from: '9999-06-16' }, { date_from: '9998-11-01', date_to: '9999-12-31' },
    { date_from: '9999-12-02', region: 'RU', action: 'exit' }
  ]
  for (const query of late) {
    const rows = await assertConsistent(t, app, companies, query, `late ${JSON.stringify(query)}`)
    t.ok(rows.length > 0, `${JSON.stringify(query)}: some events match`)
  }
})
