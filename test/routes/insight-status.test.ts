import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import type { Company } from '../../src/schemas/companies.js'
import type { Event } from '../../src/schemas/events.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

type Query = Record<string, string>

interface Posture { action: string, date: string, date_precision: string, event_id: string }
interface StatusRow extends Posture { company: { id: string, name: string }, region: string, service: string }
interface ChangeRow { company: { id: string, name: string }, region: string, service: string, before: Posture | null, after: Posture | null }

/** A small hand-made history, and a reference model of the contract's postures over it. */
class History {
  readonly events: Event[] = []
  readonly deleted = new Set<string>()
  constructor (readonly app: App, readonly companies: Map<string, Company> = new Map()) {}

  async company (name: string, fields: Partial<Company> = {}) {
    const company = await createCompany(this.app, { name, ...fields } as Parameters<typeof createCompany>[1])
    this.companies.set(company.id, company)
    return company
  }

  async add (company: Company, region: string, service: string, action: Event['action'], date: string, precision: Event['date_precision'] = 'day') {
    const event = await createEvent(this.app, { company_id: company.id, region, service, action, date, date_precision: precision })
    this.events.push(event)
    return event
  }

  async remove (event: Event, headers: Record<string, string>) {
    const res = await this.app.inject({ method: 'DELETE', url: `/v1/events/${event.id}`, headers })
    if (res.statusCode !== 204) throw new Error(`delete failed: ${res.statusCode} ${res.body}`)
    this.deleted.add(event.id)
  }

  private matches (e: Event, q: Query) {
    const company = this.companies.get(e.company_id)!
    if (q.region && !q.region.split(',').some((r) => e.region === r || e.region.startsWith(`${r}-`))) return false
    if (q.company_id && !q.company_id.split(',').includes(e.company_id)) return false
    if (q.service && !e.service.toLowerCase().includes(q.service.toLowerCase())) return false
    if (q.sector && company.sector !== q.sector) return false
    if (q.country && company.country !== q.country.toUpperCase()) return false
    return true
  }

  /** The posture of every key on a date: the latest live event by date, then by recording order. */
  postures (asOf: string, q: Query = {}): Map<string, { key: Omit<StatusRow, keyof Posture>, posture: Posture }> {
    const out = new Map<string, { key: Omit<StatusRow, keyof Posture>, posture: Posture }>()
    for (const e of this.events) {
      // Events are pushed in recording order, so a later one on the same date replaces an earlier one.
      if (this.deleted.has(e.id) || e.date > asOf || !this.matches(e, q)) continue
      const k = `${e.company_id}|${e.region}|${e.service}`
      const current = out.get(k)
      if (current && current.posture.date > e.date) continue
      out.set(k, {
        key: { company: { id: e.company_id, name: e.company.name }, region: e.region, service: e.service },
        posture: { action: e.action, date: e.date, date_precision: e.date_precision, event_id: e.id }
      })
    }
    return out
  }

  status (asOf: string, q: Query = {}): StatusRow[] {
    const actions = q.action?.split(',')
    return sortRows([...this.postures(asOf, q).values()]
      .filter((p) => !actions || actions.includes(p.posture.action))
      .map((p) => ({ ...p.key, ...p.posture })))
  }

  changes (from: string, to: string, q: Query = {}): ChangeRow[] {
    const before = this.postures(from, q)
    const after = this.postures(to, q)
    const rows: ChangeRow[] = []
    for (const [k, a] of after) {
      const b = before.get(k)
      if (b?.posture.action !== a.posture.action) rows.push({ ...a.key, before: b?.posture ?? null, after: a.posture })
    }
    return sortRows(rows)
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
function sortRows<R extends { company: { id: string, name: string }, region: string, service: string }> (rows: R[]): R[] {
  return rows.sort((a, b) => cmp(a.company.name, b.company.name) || cmp(a.company.id, b.company.id) ||
    cmp(a.region, b.region) || cmp(a.service, b.service))
}

function assertOk (t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 200, `${what}: status`, { body: res.body })
  return res.json()
}

function assertQueryProblem (t: Test, res: LightMyRequestResponse, what: string, match: Record<string, unknown> = {}) {
  t.equal(res.statusCode, 400, `${what}: status`, { body: res.body })
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.match(res.json(), { status: 400, ...match }, `${what}: problem`)
}

const status = (app: App, query: Query) => app.inject({ url: '/v1/status', query })
const changes = (app: App, query: Query) => app.inject({ url: '/v1/status/changes', query })

/** Walks every page of a listing with this page size, and returns the rows in order. */
async function walk (t: Test, app: App, url: string, query: Query, limit: number) {
  const rows: unknown[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    const body: { data: unknown[], next_cursor: string | null } = assertOk(t, await app.inject({
      url, query: { ...query, limit: String(limit), ...(cursor ? { cursor } : {}) }
    }), `${url} page ${pages + 1}`)
    t.ok(body.data.length <= limit, 'a page holds at most limit rows')
    if (body.next_cursor !== null) t.equal(body.data.length, limit, 'a page before the last is full')
    rows.push(...body.data)
    cursor = body.next_cursor
    pages++
  } while (cursor !== null && pages < 50)
  return rows
}

const today = () => new Date().toISOString().slice(0, 10)

/** Three companies with histories in several regions and services. */
async function seed (app: App) {
  const h = new History(app)
  const acme = await h.company('Acme', { country: 'US', sector: 'Retail' })
  const beta = await h.company('Beta', { country: 'DE', sector: 'Energy' })
  const gamma = await h.company('Gamma')
  const e = {
    acmeSuspend: await h.add(acme, 'RU', 'All operations', 'suspend', '2022-03-01'),
    acmeExit: await h.add(acme, 'RU', 'All operations', 'exit', '2022-09-01'),
    acmeResume: await h.add(acme, 'RU', 'All operations', 'resume', '2023-06-01'),
    acmeOblast: await h.add(acme, 'UA-43', 'All operations', 'suspend', '2022-03-05'),
    acmeBy: await h.add(acme, 'BY', 'Retail', 'exit', '2022-04-01'),
    betaRu: await h.add(beta, 'RU', 'All operations', 'continue', '2022-03-10'),
    betaUa: await h.add(beta, 'UA', 'All operations', 'exit', '2022-05-01'),
    betaRuAgain: await h.add(beta, 'RU', 'All operations', 'continue', '2022-07-01'),
    leasing1: await h.add(beta, 'RU', 'Leasing', 'suspend', '2022-03-01'),
    leasing2: await h.add(beta, 'RU', 'Leasing', 'resume', '2022-06-01'),
    leasing3: await h.add(beta, 'RU', 'Leasing', 'suspend', '2022-08-01'),
    sameDayFirst: await h.add(beta, 'BY', 'All operations', 'suspend', '2022-03-02'),
    sameDaySecond: await h.add(beta, 'BY', 'All operations', 'exit', '2022-03-02'),
    gammaDay: await h.add(gamma, 'RU', 'Prime', 'pause_new_business', '2022-03-03'),
    gammaMonth: await h.add(gamma, 'RU', 'Prime', 'scale_back', '2022-06-01', 'month'),
    gammaYear: await h.add(gamma, 'RU', 'Prime', 'exit', '2023-01-01', 'year'),
    gammaFuture: await h.add(gamma, 'RU', 'Future plans', 'exit', '2999-01-01')
  }
  return { h, acme, beta, gamma, e }
}

const posture = (e: Event) => ({ action: e.action, date: e.date, date_precision: e.date_precision, event_id: e.id })

t.test('status as of dates around a suspend, exit and resume', async (t) => {
  const app = await buildTestApp(t)
  const { h, acme, e } = await seed(app)
  const acmeRu = async (asOf: string) => {
    const body = assertOk(t, await status(app, { company_id: acme.id, region: 'RU', as_of: asOf }), `as_of ${asOf}`)
    return body.data
  }
  t.same(await acmeRu('2022-02-28'), [], 'before the first event: no posture')
  const expectations: Array<[string, Event]> = [
    ['2022-03-01', e.acmeSuspend], ['2022-05-15', e.acmeSuspend], ['2022-08-31', e.acmeSuspend],
    ['2022-09-01', e.acmeExit], ['2023-01-01', e.acmeExit], ['2023-05-31', e.acmeExit],
    ['2023-06-01', e.acmeResume], ['2030-01-01', e.acmeResume]
  ]
  for (const [asOf, event] of expectations) {
    t.same(await acmeRu(asOf), [{
      company: { id: acme.id, name: 'Acme' }, region: 'RU', service: 'All operations', ...posture(event)
    }], `as_of ${asOf}: ${event.action}`)
  }

  // Every posture on a few dates, against the model.
  for (const asOf of ['2022-03-01', '2022-03-02', '2022-06-15', '2023-01-01', '2024-01-01', '2999-01-01']) {
    const body = assertOk(t, await status(app, { as_of: asOf, limit: '200' }), `all, as_of ${asOf}`)
    t.same(body, { data: h.status(asOf), next_cursor: null }, `all postures as of ${asOf}`)
  }

  // as_of defaults to today (UTC): the event dated 2999 does not count yet.
  const byDefault = assertOk(t, await status(app, { limit: '200' }), 'default as_of')
  t.same(byDefault.data, h.status(today()), 'as_of defaults to today')
  t.notOk(byDefault.data.some((r: StatusRow) => r.event_id === e.gammaFuture.id), 'a future event sets no posture today')
})

t.test('status: events on the same day, month and year precision', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const { beta, gamma, e, h } = await seed(app)

  const betaBy = assertOk(t, await status(app, { company_id: beta.id, region: 'BY', as_of: '2022-03-02' }), 'same day')
  t.same(betaBy.data.map((r: StatusRow) => r.event_id), [e.sameDaySecond.id], 'the event recorded later on the same date sets the posture')
  t.equal(betaBy.data[0].action, 'exit')

  // Moving the earlier-recorded event onto the later one's date: the one recorded later still wins.
  const moved = await app.inject({ method: 'PATCH', url: `/v1/events/${e.leasing2.id}`, headers, payload: { date: '2022-08-01' } })
  t.equal(moved.statusCode, 200, 'patch the date', { body: moved.body })
  h.events.find((x) => x.id === e.leasing2.id)!.date = '2022-08-01'
  const leasing = assertOk(t, await status(app, { company_id: beta.id, service: 'leasing', as_of: '2022-08-01' }), 'moved event')
  t.same(leasing.data.map((r: StatusRow) => [r.event_id, r.action]), [[e.leasing3.id, 'suspend']], 'by recording time, not by update time')

  const prime = async (asOf: string) => assertOk(t, await status(app, { company_id: gamma.id, service: 'Prime', as_of: asOf }), asOf).data
  t.match(await prime('2022-05-31'), [{ action: 'pause_new_business', date: '2022-03-03', date_precision: 'day' }], 'before the month')
  t.same(await prime('2022-06-01'), [{ company: { id: gamma.id, name: 'Gamma' }, region: 'RU', service: 'Prime', ...posture(e.gammaMonth) }],
    'a month-precision event holds from the first day of its month')
  t.match(await prime('2022-12-31'), [{ action: 'scale_back', date: '2022-06-01', date_precision: 'month' }], 'until the next one')
  t.match(await prime('2023-01-01'), [{ action: 'exit', date: '2023-01-01', date_precision: 'year', event_id: e.gammaYear.id }],
    'a year-precision event holds from the first day of its year')
})

t.test('status filters, pagination and cursors', async (t) => {
  const app = await buildTestApp(t)
  const { h, acme, beta } = await seed(app)
  const asOf = '2023-01-01'
  const cases: Query[] = [
    { region: 'UA' },
    { region: 'UA-43' },
    { region: 'ru,by' },
    { region: 'BY,UA' },
    { company_id: beta.id },
    { company_id: `${acme.id},${beta.id}` },
    { action: 'exit' },
    { action: 'suspend' },
    { action: 'continue,scale_back' },
    { sector: 'Energy' },
    { sector: 'Retail' },
    { country: 'US' },
    { country: 'DE', region: 'RU' },
    { country: 'us', region: 'ua-43' },
    { service: 'OPERATIONS' },
    { service: 'prime' },
    { region: 'RU', action: 'exit', sector: 'Retail' },
    { region: 'PL' },
    { service: '%' }
  ]
  for (const q of cases) {
    const body = assertOk(t, await status(app, { ...q, as_of: asOf }), JSON.stringify(q))
    const expected = h.status(asOf, { ...q, region: q.region?.toUpperCase() ?? '' })
    t.same(body.data, expected, `filter ${JSON.stringify(q)}`)
  }
  // Pinned by hand, not by the model: action filters the postures, not the events.
  const suspended = assertOk(t, await status(app, { action: 'suspend', as_of: asOf }), 'suspended').data
  t.same(suspended.map((r: StatusRow) => `${r.company.name} ${r.region} ${r.service}`), ['Acme UA-43 All operations', 'Beta RU Leasing'],
    'Acme RU, which suspended before it exited, is not suspended on 2023-01-01')
  const ua = assertOk(t, await status(app, { region: 'UA', as_of: asOf }), 'UA').data
  t.same(ua.map((r: StatusRow) => `${r.company.name} ${r.region}`), ['Acme UA-43', 'Beta UA'], 'a country includes its subdivisions')

  // Two more companies with the same name as another: the company id breaks the tie.
  for (const twin of [await h.company('Beta', { sector: 'Energy' }), await h.company('Beta')]) {
    await h.add(twin, 'RU', 'All operations', 'exit', '2022-04-04')
    await h.add(twin, 'BY', 'All operations', 'suspend', '2022-04-04')
  }

  // limit=2 walks every posture exactly once, in order.
  const all = h.status(asOf)
  t.ok(all.length >= 8, 'enough postures to page through')
  const walked = await walk(t, app, '/v1/status', { as_of: asOf }, 2)
  t.same(walked, all, 'the pages together are the whole list, in order, without repeats')
  const walkedFiltered = await walk(t, app, '/v1/status', { as_of: asOf, region: 'RU' }, 1)
  t.same(walkedFiltered, h.status(asOf, { region: 'RU' }), 'filtered pages too')
  const walkedPostures = await walk(t, app, '/v1/status', { as_of: asOf, action: 'exit,suspend', sector: 'Energy' }, 1)
  t.same(walkedPostures, h.status(asOf, { action: 'exit,suspend', sector: 'Energy' }), 'pages filtered by posture and sector')
  t.equal(all.filter((r) => r.company.name === 'Beta').length, 8, 'three companies named Beta')

  const first = assertOk(t, await status(app, { as_of: asOf, limit: '2' }), 'first page')
  t.type(first.next_cursor, 'string')
  assertQueryProblem(t, await status(app, { as_of: '2023-01-02', limit: '2', cursor: first.next_cursor }), 'cursor with another as_of',
    { code: 'APP_CURSOR_INVALID' })
  assertQueryProblem(t, await status(app, { limit: '2', cursor: first.next_cursor }), 'cursor with the default as_of',
    { code: 'APP_CURSOR_INVALID' })
  assertQueryProblem(t, await status(app, { as_of: asOf, region: 'RU', limit: '2', cursor: first.next_cursor }), 'cursor with another filter',
    { code: 'APP_CURSOR_INVALID' })
  const second = assertOk(t, await status(app, { as_of: asOf, limit: '5', cursor: first.next_cursor }), 'cursor with another limit')
  t.same(second.data, all.slice(2, 7), 'another limit keeps the cursor valid')

  assertQueryProblem(t, await status(app, { as_of: '2023-02-30' }), 'impossible as_of', { errors: [{ in: 'querystring', pointer: '/as_of' }] })
  assertQueryProblem(t, await status(app, { region: 'XX' }), 'unknown region', { errors: [{ in: 'querystring', pointer: '/region' }] })
  assertQueryProblem(t, await status(app, { action: 'leave' }), 'unknown action', { errors: [{ in: 'querystring', pointer: '/action' }] })
  assertQueryProblem(t, await status(app, { date_from: '2022-01-01' }), 'a list filter that status does not take')
  assertQueryProblem(t, await status(app, { cursor: 'garbage' }), 'malformed cursor', { code: 'APP_CURSOR_INVALID' })
})

t.test('changes between two dates', async (t) => {
  const app = await buildTestApp(t)
  const { h, acme, beta, gamma, e } = await seed(app)

  const between = async (from: string, to: string, q: Query = {}) =>
    assertOk(t, await changes(app, { from, to, limit: '200', ...q }), `${from}..${to} ${JSON.stringify(q)}`)

  const body = await between('2022-05-01', '2023-01-01')
  t.same(body, {
    data: [
      { company: { id: acme.id, name: 'Acme' }, region: 'RU', service: 'All operations', before: posture(e.acmeSuspend), after: posture(e.acmeExit) },
      { company: { id: gamma.id, name: 'Gamma' }, region: 'RU', service: 'Prime', before: posture(e.gammaDay), after: posture(e.gammaYear) }
    ],
    next_cursor: null
  }, 'suspend → exit and pause → exit; unchanged keys (suspend → resume → suspend, continue → continue, an exit on from) are absent')
  t.same(await between('2022-04-30', '2023-01-01'), { data: h.changes('2022-04-30', '2023-01-01'), next_cursor: null }, 'model agrees')
  const firstSeen = (await between('2022-04-30', '2022-06-01', { region: 'UA' })).data
  t.same(firstSeen, [{ company: { id: beta.id, name: 'Beta' }, region: 'UA', service: 'All operations', before: null, after: posture(e.betaUa) }],
    'a key first appearing between the dates has before = null')

  t.same((await between('2022-04-01', '2022-09-01', { service: 'leasing' })).data, [],
    'suspend, resume, suspend again: the same posture on both dates is no change')
  t.same((await between('2022-03-15', '2022-08-01', { company_id: beta.id, region: 'RU', service: 'operations' })).data, [],
    'continue reaffirmed is no change')
  t.same((await between('2022-10-01', '2023-05-31', { company_id: acme.id })).data, [], 'exit on both dates')
  t.same((await between('2022-09-01', '2023-06-01', { company_id: acme.id })).data.map((r: ChangeRow) => [r.before?.action, r.after?.action]),
    [['exit', 'resume']], 'an event on `to` counts, one on `from` is in before')
  t.same((await between('2022-08-31', '2022-09-01', { company_id: acme.id })).data.map((r: ChangeRow) => [r.before?.action, r.after?.action]),
    [['suspend', 'exit']], 'one day apart')
  t.same((await between('2022-03-01', '2022-03-02', { company_id: beta.id, region: 'BY' })).data,
    [{ company: { id: beta.id, name: 'Beta' }, region: 'BY', service: 'All operations', before: null, after: posture(e.sameDaySecond) }],
    'the same-day pair: the one recorded later is the after')

  for (const [from, to] of [['2022-01-01', '2022-12-31'], ['2022-03-01', '2022-03-05'], ['2022-06-01', '2999-01-01'], ['2023-01-01', '2024-01-01']]) {
    t.same((await between(from!, to!)).data, h.changes(from!, to!), `all changes ${from}..${to}`)
  }
  const filters: Query[] = [
    { region: 'UA' }, { region: 'UA-43' }, { company_id: gamma.id }, { sector: 'Energy' }, { country: 'US' }, { service: 'prime' }, { region: 'RU', country: 'DE' }
  ]
  for (const q of filters) {
    t.same((await between('2022-01-01', '2023-12-31', q)).data, h.changes('2022-01-01', '2023-12-31', q), `filter ${JSON.stringify(q)}`)
  }

  const all = h.changes('2022-01-01', '2023-12-31')
  t.ok(all.length >= 6, 'enough changes to page through')
  t.same(await walk(t, app, '/v1/status/changes', { from: '2022-01-01', to: '2023-12-31' }, 2), all, 'pages of 2')
  t.same(await walk(t, app, '/v1/status/changes', { from: '2022-01-01', to: '2023-12-31' }, 1), all, 'pages of 1')
  const first = assertOk(t, await changes(app, { from: '2022-01-01', to: '2023-12-31', limit: '1' }), 'first page')
  assertQueryProblem(t, await changes(app, { from: '2022-01-01', to: '2023-12-30', limit: '1', cursor: first.next_cursor }),
    'cursor with another to', { code: 'APP_CURSOR_INVALID' })

  assertQueryProblem(t, await changes(app, { from: '2023-01-01', to: '2023-01-01' }), 'from = to', { errors: [{ in: 'querystring', pointer: '/to' }] })
  assertQueryProblem(t, await changes(app, { from: '2023-01-02', to: '2023-01-01' }), 'from > to', { errors: [{ in: 'querystring', pointer: '/to' }] })
  assertQueryProblem(t, await changes(app, { to: '2023-01-01' }), 'from missing', { errors: [{ in: 'querystring' }] })
  assertQueryProblem(t, await changes(app, { from: '2023-01-01' }), 'to missing', { errors: [{ in: 'querystring' }] })
  assertQueryProblem(t, await changes(app, { from: '2022-01-01', to: '2023-01-01', as_of: '2023-01-01' }), 'as_of is not a changes parameter')
})

t.test('deleted events no longer count in status or changes', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const { h, acme, beta, e } = await seed(app)

  await h.remove(e.acmeResume, headers)
  const acmeRu = assertOk(t, await status(app, { company_id: acme.id, region: 'RU' }), 'after deleting the resume').data
  t.same(acmeRu.map((r: StatusRow) => r.event_id), [e.acmeExit.id], 'the exit holds again today')
  t.same(assertOk(t, await changes(app, { from: '2022-10-01', to: '2024-01-01', company_id: acme.id }), 'changes').data, [],
    'no change once the resume is gone')

  await h.remove(e.sameDaySecond, headers)
  const betaBy = assertOk(t, await status(app, { company_id: beta.id, region: 'BY', as_of: '2022-03-02' }), 'same day, second deleted').data
  t.same(betaBy.map((r: StatusRow) => [r.event_id, r.action]), [[e.sameDayFirst.id, 'suspend']], 'the first of the pair sets it now')

  await h.remove(e.sameDayFirst, headers)
  t.same(assertOk(t, await status(app, { company_id: beta.id, region: 'BY' }), 'both deleted').data, [], 'a key with no live event has no posture')
  t.same(assertOk(t, await changes(app, { from: '2022-01-01', to: '2022-12-31', region: 'BY', company_id: beta.id }), 'both deleted').data, [],
    'and no change')

  await h.remove(e.leasing3, headers)
  const leasing = assertOk(t, await changes(app, { from: '2022-04-01', to: '2022-09-01', service: 'leasing' }), 'leasing').data
  t.same(leasing.map((r: ChangeRow) => [r.before?.action, r.after?.action]), [['suspend', 'resume']], 'a deleted later event no longer masks a change')

  for (const asOf of ['2022-03-02', '2022-09-01', '2023-06-01']) {
    t.same(assertOk(t, await status(app, { as_of: asOf, limit: '200' }), asOf).data, h.status(asOf), `model after deletes, as_of ${asOf}`)
  }
  t.same(assertOk(t, await changes(app, { from: '2022-01-01', to: '2023-12-31', limit: '200' }), 'all').data,
    h.changes('2022-01-01', '2023-12-31'), 'model after deletes, changes')
})
