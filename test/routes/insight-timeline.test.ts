import { randomUUID } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import type { Event } from '../../src/schemas/events.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

interface Interval { from: string, to: string | null, service: string, action: string, date: string, date_precision: string, event_id: string }
interface Timeline { company: { id: string, name: string }, regions: Array<{ region: string, events: Event[], intervals: Interval[] }> }

function assertStatus (t: Test, res: LightMyRequestResponse, status: number, what: string) {
  t.equal(res.statusCode, status, `${what}: status ${status}`, { body: res.body })
}

async function timeline (t: Test, app: App, id: string): Promise<Timeline> {
  const res = await app.inject({ url: `/v1/companies/${id}/timeline` })
  assertStatus(t, res, 200, 'timeline')
  return res.json()
}

/** The event as GET /v1/events/{id} returns it: the timeline embeds the same full objects. */
async function fetched (app: App, event: Event): Promise<Event> {
  return (await app.inject({ url: `/v1/events/${event.id}` })).json()
}

const interval = (e: Event, to: string | null): Interval =>
  ({ from: e.date, to, service: e.service, action: e.action, date: e.date, date_precision: e.date_precision, event_id: e.id })

t.test('timeline of a company that suspends, exits and resumes', async (t) => {
  const app = await buildTestApp(t)
  const acme = await createCompany(app, { name: 'Acme' })
  const other = await createCompany(app, { name: 'Other' })
  const add = (region: string, service: string, action: Event['action'], date: string, extra: Partial<Parameters<typeof createEvent>[1]> = {}) =>
    createEvent(app, { company_id: acme.id, region, service, action, date, ...extra })

  // Recorded out of date order on purpose.
  const resume = await add('RU', 'All operations', 'resume', '2023-06-01')
  const suspend = await add('RU', 'All operations', 'suspend', '2022-03-01', { summary: 'Suspended.', sources: [{ url: 'https://news.example.com/acme-suspends', title: 'Acme suspends', language: 'en' }] })
  const exit = await add('RU', 'All operations', 'exit', '2022-09-01')
  const oblast = await add('UA-43', 'Retail', 'suspend', '2022-02-25')
  const by = await add('BY', 'Retail', 'exit', '2022-04-01', { effective_date: '2022-05-01', external_id: 'acme-by' })
  const video = await add('RU', 'Video', 'suspend', '2022-03-01', { date_precision: 'month' })
  const videoDay = await add('RU', 'Video', 'exit', '2022-03-15')
  const videoYear = await add('RU', 'Video', 'continue', '2021-01-01', { date_precision: 'year' })
  await createEvent(app, { company_id: other.id, region: 'AM', action: 'exit', date: '2022-03-01' })

  const body = await timeline(t, app, acme.id)
  t.same(body.company, { id: acme.id, name: 'Acme' }, 'the company')
  t.same(body.regions.map((r) => r.region), ['BY', 'RU', 'UA-43'], 'regions sorted by code; another company\'s events are not here')

  const ru = body.regions.find((r) => r.region === 'RU')!
  const ruEvents = [videoYear, suspend, video, videoDay, exit, resume]
  t.same(ru.events.map((e) => e.id), ruEvents.map((e) => e.id),
    'events in date order; month and year precision at the start of their period; same date by recording order')
  t.same(ru.events, await Promise.all(ruEvents.map((e) => fetched(app, e))), 'full Event objects, as GET /v1/events/{id} returns them')
  t.match(ru.events.find((e) => e.id === suspend.id), { summary: 'Suspended.', sources: [{ url: 'https://news.example.com/acme-suspends', title: 'Acme suspends' }] })
  t.same(ru.events.map((e) => e.date_precision), ['year', 'day', 'month', 'day', 'day', 'day'], 'date_precision is reported')
  t.same(ru.intervals, [
    interval(suspend, '2022-09-01'),
    interval(exit, '2023-06-01'),
    interval(resume, null),
    interval(videoYear, '2022-03-01'),
    interval(video, '2022-03-15'),
    interval(videoDay, null)
  ], 'half-open intervals per service (services sorted), each ending where the next event of its service starts')
  t.same(body.regions.find((r) => r.region === 'BY'), {
    region: 'BY', events: [await fetched(app, by)], intervals: [interval(by, null)]
  }, 'BY')
  t.same(body.regions.find((r) => r.region === 'UA-43')!.intervals, [interval(oblast, null)], 'a subdivision is its own region')
})

t.test('timeline: two events on the same day, deleted events', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const acme = await createCompany(app, { name: 'Acme' })
  const add = (action: Event['action'], date: string, service = 'All operations') =>
    createEvent(app, { company_id: acme.id, region: 'RU', service, action, date })

  const first = await add('suspend', '2022-03-01')
  const second = await add('exit', '2022-03-01')
  const third = await add('resume', '2023-01-01')
  const lone = await add('pause_new_business', '2022-05-01', 'AWS')

  let ru = (await timeline(t, app, acme.id)).regions[0]!
  t.same(ru.events.map((e) => e.id), [first.id, second.id, lone.id, third.id], 'both same-day events are listed, in recording order')
  t.same(ru.intervals, [interval(lone, null), interval(second, '2023-01-01'), interval(third, null)],
    'the one superseded on its own date yields no interval; the later one holds')

  const del = async (e: Event) => assertStatus(t, await app.inject({ method: 'DELETE', url: `/v1/events/${e.id}`, headers }), 204, 'delete')
  await del(second)
  ru = (await timeline(t, app, acme.id)).regions[0]!
  t.same(ru.events.map((e) => e.id), [first.id, lone.id, third.id], 'a deleted event is gone from the events')
  t.same(ru.intervals, [interval(lone, null), interval(first, '2023-01-01'), interval(third, null)], 'and from the intervals')

  await del(third)
  ru = (await timeline(t, app, acme.id)).regions[0]!
  t.same(ru.intervals, [interval(lone, null), interval(first, null)], 'the last live event holds for good')

  await del(first)
  await del(lone)
  t.same(await timeline(t, app, acme.id), { company: { id: acme.id, name: 'Acme' }, regions: [] }, 'no live events: no regions')

  // A company without events has an empty timeline; once deleted, it has none.
  const empty = await createCompany(app, { name: 'Empty' })
  t.same(await timeline(t, app, empty.id), { company: { id: empty.id, name: 'Empty' }, regions: [] }, 'empty timeline')
  for (const company of [acme, empty]) {
    assertStatus(t, await app.inject({ method: 'DELETE', url: `/v1/companies/${company.id}`, headers }), 204, 'delete company')
    const gone = await app.inject({ url: `/v1/companies/${company.id}/timeline` })
    assertStatus(t, gone, 404, 'deleted company')
    t.match(gone.headers['content-type'], /^application\/problem\+json/)
    t.match(gone.json(), { status: 404, code: 'APP_COMPANY_NOT_FOUND' }, 'deleted company: 404 problem')
  }
  const unknown = await app.inject({ url: `/v1/companies/${randomUUID()}/timeline` })
  assertStatus(t, unknown, 404, 'unknown company')
  t.match(unknown.json(), { status: 404, code: 'APP_COMPANY_NOT_FOUND' }, 'unknown company: 404 problem')
  const malformed = await app.inject({ url: '/v1/companies/not-a-uuid/timeline' })
  assertStatus(t, malformed, 400, 'malformed id')
  t.match(malformed.json(), { errors: [{ in: 'params', pointer: '/id' }] }, 'malformed id names the parameter')
})

t.test('timeline after an event moves to another date, region or company', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const acme = await createCompany(app, { name: 'Acme' })
  const beta = await createCompany(app, { name: 'Beta' })
  const early = await createEvent(app, { company_id: acme.id, region: 'RU', action: 'suspend', date: '2022-03-01' })
  const late = await createEvent(app, { company_id: acme.id, region: 'RU', action: 'exit', date: '2022-09-01' })
  const moving = await createEvent(app, { company_id: acme.id, region: 'RU', action: 'resume', date: '2023-01-01' })

  const patch = async (e: Event, payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'PATCH', url: `/v1/events/${e.id}`, headers, payload })
    assertStatus(t, res, 200, `patch ${JSON.stringify(payload)}`)
    return res.json() as Event
  }
  // Moved onto the date of an earlier-recorded event: the recording order still decides.
  const moved = await patch(early, { date: '2022-09-01' })
  let ru = (await timeline(t, app, acme.id)).regions[0]!
  t.same(ru.events.map((e) => e.id), [early.id, late.id, moving.id], 'same date: by when recorded')
  t.same(ru.intervals, [interval(late, '2023-01-01'), interval(moving, null)], 'the earlier-recorded one is superseded on its date')
  t.equal(ru.events[0]!.version, moved.version, 'the timeline shows the current version')

  await patch(moving, { region: 'BY' })
  const body = await timeline(t, app, acme.id)
  t.same(body.regions.map((r) => r.region), ['BY', 'RU'], 'a moved event moves to its new region')
  ru = body.regions[1]!
  t.same(ru.intervals, [interval(late, null)], 'and no longer ends an interval in the old one')

  await patch(late, { company_id: beta.id })
  t.same((await timeline(t, app, acme.id)).regions.map((r) => [r.region, r.events.map((e) => e.id)]), [['BY', [moving.id]], ['RU', [early.id]]],
    'an event given to another company leaves this timeline')
  t.same((await timeline(t, app, beta.id)).regions.map((r) => [r.region, r.events.map((e) => e.company.name)]), [['RU', ['Beta']]],
    'and joins that one\'s')
})
