import t from 'tap'
import type { Event } from '../../src/schemas/events.js'
import type { App } from '../../src/app.js'
import { SYSTEM_ACTOR } from '../../src/services/revisions.js'
import { buildTestApp, createCompany, createEvent } from '../helper.js'

// Facets and time series add up per-month and per-year counts kept by triggers. These tests make the counts
// move in every way a write can move them, then compare both endpoints with counts made here from the list.

const ACTIONS = ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume'] as const
const REGIONS = ['RU', 'BY', 'UA', 'UA-43', 'KZ']

async function listAll (app: App, query: Record<string, string>): Promise<Event[]> {
  const all: Event[] = []
  let cursor: string | undefined
  do {
    const res = await app.inject({ url: '/v1/events', query: { ...query, limit: '200', ...(cursor ? { cursor } : {}) } })
    const body = res.json()
    all.push(...body.data)
    cursor = body.next_cursor ?? undefined
  } while (cursor)
  return all
}

function tally (values: Array<string | null>): Array<{ value: string | null, count: number }> {
  const counts = new Map<string | null, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return [...counts].map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value === null ? 1 : b.value === null ? -1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
}

t.test('facets and time series agree with the events after every kind of write', async (t) => {
  const app = await buildTestApp(t)
  const companies = await Promise.all([
    createCompany(app, { name: 'Alpha', sector: 'Energy', country: 'DE' }),
    createCompany(app, { name: 'Beta', sector: 'Retail', country: 'US' }),
    createCompany(app, { name: 'Gamma' })
  ])
  const created: Event[] = []
  for (let i = 0; i < 48; i++) {
    created.push(await createEvent(app, {
      company_id: companies[i % 3]!.id,
      region: REGIONS[i % REGIONS.length]!,
      action: ACTIONS[i % ACTIONS.length]!,
      date: `${2021 + (i % 3)}-${String(1 + (i * 5) % 12).padStart(2, '0')}-${String(1 + (i * 7) % 28).padStart(2, '0')}`
    }))
  }
  // Moves along every dimension of the counts, and out of them.
  await app.services.events.update(created[0]!.id, { region: 'BY', action: 'resume', date: '2020-06-15' }, undefined, SYSTEM_ACTOR)
  await app.services.events.update(created[1]!.id, { company_id: companies[2]!.id }, undefined, SYSTEM_ACTOR)
  await app.services.events.update(created[2]!.id, { summary: 'only the text changes' }, undefined, SYSTEM_ACTOR)
  await app.services.events.remove(created[3]!.id, undefined, SYSTEM_ACTOR)
  await app.services.events.remove(created[4]!.id, undefined, SYSTEM_ACTOR)
  await app.services.companies.update(companies[0]!.id, { sector: 'Materials', country: null }, undefined, SYSTEM_ACTOR)
  await app.services.companies.update(companies[2]!.id, { sector: 'Energy' }, undefined, SYSTEM_ACTOR)

  const byId = new Map((await Promise.all(companies.map((c) => app.services.companies.get(c.id)))).map((c) => [c.id, c]))
  const filterSets: Array<Record<string, string>> = [
    {},
    { region: 'UA' },
    { region: 'UA-43,BY', action: 'exit,resume' },
    { date_from: '2021-01-01', date_to: '2022-12-31' },
    { date_from: '2021-03-10', date_to: '2022-08-20' },
    { date_from: '2022-02-01' },
    { date_to: '2021-11-30', region: 'RU' },
    { date_from: '2021-05-05', date_to: '2021-05-28' },
    { company: 'alpha' },
    { service: 'operations', date_from: '2021-02-02' }
  ]
  for (const filters of filterSets) {
    const listed = await listAll(app, filters)
    const facets = await app.inject({ url: '/v1/events/facets', query: { ...filters, fields: 'action,region,sector,country,year,month' } })
    t.equal(facets.statusCode, 200)
    t.same(facets.json(), {
      action: tally(listed.map((e) => e.action)),
      region: tally(listed.map((e) => e.region)),
      sector: tally(listed.map((e) => byId.get(e.company_id)!.sector)),
      country: tally(listed.map((e) => byId.get(e.company_id)!.country)),
      year: tally(listed.map((e) => e.date.slice(0, 4))),
      month: tally(listed.map((e) => e.date.slice(0, 7)))
    }, `facets ${JSON.stringify(filters)}`)

    for (const interval of ['month', 'quarter', 'year'] as const) {
      for (const groupBy of ['action', 'region', 'sector'] as const) {
        const res = await app.inject({ url: '/v1/events/timeseries', query: { ...filters, interval, group_by: groupBy } })
        t.equal(res.statusCode, 200)
        const series = res.json()
        const keyOf = (e: Event) => groupBy === 'sector' ? byId.get(e.company_id)!.sector ?? 'unknown' : e[groupBy]
        const periodOf = (date: string) => interval === 'year'
          ? date.slice(0, 4)
          : interval === 'quarter' ? `${date.slice(0, 4)}-Q${Math.floor((Number(date.slice(5, 7)) - 1) / 3) + 1}` : date.slice(0, 7)
        const expected = new Map<string, Map<string, number>>()
        for (const e of listed) {
          const period = expected.get(periodOf(e.date)) ?? new Map<string, number>()
          period.set(keyOf(e), (period.get(keyOf(e)) ?? 0) + 1)
          expected.set(periodOf(e.date), period)
        }
        const seen = new Map<string, Map<string, number>>()
        let total = 0
        for (const bucket of series.buckets) {
          total += bucket.total
          const nonZero = Object.entries(bucket.counts as Record<string, number>).filter(([, n]) => n > 0)
          if (nonZero.length > 0) seen.set(bucket.period, new Map(nonZero))
        }
        t.same(seen, expected, `timeseries ${interval} by ${groupBy} ${JSON.stringify(filters)}`)
        t.equal(total, listed.length)
      }
    }
  }
})

t.test('counts stay exact under concurrent writes', async (t) => {
  const app = await buildTestApp(t)
  const companies = await Promise.all([createCompany(app, { sector: 'Energy' }), createCompany(app, { sector: 'Retail' })])
  const first = await Promise.all(Array.from({ length: 30 }, (_, i) => createEvent(app, {
    company_id: companies[i % 2]!.id, region: REGIONS[i % 3]!, action: ACTIONS[i % 2]!, date: `2022-0${1 + (i % 3)}-1${i % 10}`
  })))
  await Promise.all([
    ...first.slice(0, 10).map((e, i) => app.services.events.update(e.id, { region: REGIONS[(i + 1) % 3]!, action: 'exit' }, undefined, SYSTEM_ACTOR)),
    ...first.slice(10, 20).map((e) => app.services.events.remove(e.id, undefined, SYSTEM_ACTOR)),
    ...Array.from({ length: 10 }, (_, i) => createEvent(app, { company_id: companies[i % 2]!.id, region: 'RU', action: 'exit', date: '2022-01-15' })),
    app.services.companies.update(companies[1]!.id, { sector: 'Materials' }, undefined, SYSTEM_ACTOR)
  ])
  const listed = await listAll(app, {})
  const byId = new Map((await Promise.all(companies.map((c) => app.services.companies.get(c.id)))).map((c) => [c.id, c]))
  const res = await app.inject({ url: '/v1/events/facets', query: { fields: 'action,region,sector' } })
  t.same(res.json(), {
    action: tally(listed.map((e) => e.action)),
    region: tally(listed.map((e) => e.region)),
    sector: tally(listed.map((e) => byId.get(e.company_id)!.sector))
  })
  t.equal(listed.length, 30)
})
