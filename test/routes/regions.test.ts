import t from 'tap'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

// English (ISO 3166) names, written out here rather than read from the package the app uses.
const NAMES: Record<string, string> = {
  BY: 'Belarus',
  KZ: 'Kazakhstan',
  RU: 'Russian Federation',
  UA: 'Ukraine',
  'UA-43': 'Avtonomna Respublika Krym',
  'US-CA': 'California'
}

t.test('no events, no regions', async (t) => {
  const app = await buildTestApp(t)
  await createCompany(app)
  const res = await app.inject({ url: '/v1/regions' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  t.same(res.json(), { data: [] })
})

t.test('the codes live events use, with English names and live counts', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app, { name: 'Amazon' })
  const other = await createCompany(app, { name: 'Ozon' })

  const made: Array<{ id: string, region: string, deleted: boolean }> = []
  const add = async (region: string, deleted = false, companyId = company.id) => {
    const event = await createEvent(app, { company_id: companyId, region })
    made.push({ id: event.id, region: event.region, deleted })
    if (deleted) {
      const res = await app.inject({ method: 'DELETE', url: `/v1/events/${event.id}`, headers })
      t.equal(res.statusCode, 204)
    }
  }
  await add('RU')
  await add('RU', false, other.id)
  await add('RU', true)
  await add('UA')
  await add('UA')
  await add('UA-43')
  await add('US-CA')
  await add('FR', true) // only deleted events here: not in use
  // Sent in lower case over HTTP: stored and listed upper-cased.
  const posted = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'by', service: 'Prime Video', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://example.com/by' }] }
  })
  t.equal(posted.statusCode, 201, 'created over HTTP')
  made.push({ id: posted.json().id, region: 'BY', deleted: false })

  /** The expected list, counted here from what was made, in code order. */
  const expected = () => {
    const counts = new Map<string, number>()
    for (const e of made) if (!e.deleted) counts.set(e.region, (counts.get(e.region) ?? 0) + 1)
    return [...counts.keys()].sort().map((code) => ({ code, name: NAMES[code], event_count: counts.get(code) }))
  }

  const res = await app.inject({ url: '/v1/regions' })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { data: expected() })
  t.same(res.json().data.map((r: { code: string }) => r.code), ['BY', 'RU', 'UA', 'UA-43', 'US-CA'], 'FR has only a deleted event')
  t.match(res.json().data, [
    { code: 'BY', name: 'Belarus', event_count: 1 },
    { code: 'RU', name: 'Russian Federation', event_count: 2 },
    { code: 'UA', name: 'Ukraine', event_count: 2 },
    { code: 'UA-43', name: 'Avtonomna Respublika Krym', event_count: 1 },
    { code: 'US-CA', name: 'California', event_count: 1 }
  ])

  t.test('moving an event to another region moves its count', async (t) => {
    const moved = made.find((e) => e.region === 'RU' && !e.deleted)!
    const patched = await app.inject({ method: 'PATCH', url: `/v1/events/${moved.id}`, headers, payload: { region: 'kz' } })
    t.equal(patched.statusCode, 200, 'patched')
    moved.region = 'KZ'
    const res = await app.inject({ url: '/v1/regions' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { data: expected() })
    t.match(res.json().data, [{ code: 'BY' }, { code: 'KZ', name: 'Kazakhstan', event_count: 1 }, { code: 'RU', event_count: 1 }])
  })

  t.test('deleting the last event of a region removes the region', async (t) => {
    const crimea = made.find((e) => e.region === 'UA-43')!
    const removed = await app.inject({ method: 'DELETE', url: `/v1/events/${crimea.id}`, headers })
    t.equal(removed.statusCode, 204)
    crimea.deleted = true
    const res = await app.inject({ url: '/v1/regions' })
    t.equal(res.statusCode, 200)
    t.same(res.json(), { data: expected() })
    t.notOk(res.json().data.some((r: { code: string }) => r.code === 'UA-43'), 'UA-43 is gone')
    t.match(res.json().data.find((r: { code: string }) => r.code === 'UA'), { event_count: 2 }, 'UA counts its own events only')
  })
})

t.test('regions are read with a read key when reads require one', async (t) => {
  const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
  await createEvent(app, { region: 'RU' })
  const anonymous = await app.inject({ url: '/v1/regions' })
  t.equal(anonymous.statusCode, 401)
  t.match(anonymous.headers['content-type'], /^application\/problem\+json/)
  const res = await app.inject({ url: '/v1/regions', headers: await authHeader(app, ['read']) })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { data: [{ code: 'RU', name: 'Russian Federation', event_count: 1 }] })
})
