import t from 'tap'
import { authHeader, buildTestApp } from '../helper.js'

const pause = () => new Promise((resolve) => setTimeout(resolve, 25))
async function moment (): Promise<string> {
  await pause()
  const at = new Date().toISOString()
  await pause()
  return at
}

t.test('known_at answers from what was recorded at that moment', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const before = await moment()
  const company = (await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Old Name' } })).json()
  const event = (await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'RU', service: 'Retail', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://example.com/k' }] }
  })).json()
  const firstKnown = await moment()
  await app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers, payload: { action: 'exit', sources: [{ url: 'https://example.com/k' }, { url: 'https://example.com/l' }] } })
  await app.inject({ method: 'PATCH', url: `/v1/companies/${company.id}`, headers, payload: { name: 'New Name' } })
  const other = (await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'RU', service: 'Cloud', action: 'continue', date: '2022-03-09', sources: [{ url: 'https://example.com/m' }] }
  })).json()
  const secondKnown = await moment()
  await app.inject({ method: 'DELETE', url: `/v1/events/${other.id}`, headers })

  const then = await app.inject({ url: `/v1/events/${event.id}?known_at=${firstKnown}` })
  t.equal(then.statusCode, 200)
  t.match(then.json(), { action: 'suspend', version: 1, source_count: 1, company: { name: 'Old Name' } })
  t.equal(then.headers.etag, '"1"')
  t.match((await app.inject({ url: `/v1/events/${event.id}` })).json(), { action: 'exit', version: 2 })
  t.equal((await app.inject({ url: `/v1/events/${event.id}?known_at=${before}` })).statusCode, 404, 'not yet recorded')
  t.equal((await app.inject({ url: `/v1/events/${other.id}?known_at=${secondKnown}` })).statusCode, 200, 'live then')
  t.equal((await app.inject({ url: `/v1/events/${other.id}` })).statusCode, 404, 'deleted since')
  t.match((await app.inject({ url: `/v1/companies/${company.id}?known_at=${firstKnown}` })).json(), { name: 'Old Name' })

  const listThen = (await app.inject({ url: `/v1/events?known_at=${firstKnown}` })).json()
  t.same(listThen.data.map((e: { id: string, action: string }) => [e.id, e.action]), [[event.id, 'suspend']])
  t.same((await app.inject({ url: `/v1/events?known_at=${firstKnown}&action=exit` })).json().data, [], 'filters apply to the recorded state')
  const listLater = (await app.inject({ url: `/v1/events?known_at=${secondKnown}&sort=date&limit=1` })).json()
  t.same(listLater.data.map((e: { id: string }) => e.id), [event.id])
  const nextPage = (await app.inject({ url: `/v1/events?known_at=${secondKnown}&sort=date&limit=1&cursor=${listLater.next_cursor}` })).json()
  t.same(nextPage.data.map((e: { id: string }) => e.id), [other.id], 'pages walk the recorded state')
  t.equal((await app.inject({ url: `/v1/events?sort=date&limit=1&cursor=${listLater.next_cursor}` })).statusCode, 400, 'its cursor needs its known_at')
  t.same((await app.inject({ url: `/v1/events?known_at=${before}` })).json().data, [])

  const statusThen = (await app.inject({ url: `/v1/status?as_of=2022-12-31&known_at=${firstKnown}` })).json()
  t.same(statusThen.data.map((p: { company: { name: string }, service: string, action: string }) => [p.company.name, p.service, p.action]),
    [['Old Name', 'Retail', 'suspend']])
  const statusLater = (await app.inject({ url: `/v1/status?as_of=2022-12-31&known_at=${secondKnown}` })).json()
  t.same(statusLater.data.map((p: { company: { name: string }, service: string, action: string }) => [p.company.name, p.service, p.action]).sort(),
    [['New Name', 'Cloud', 'continue'], ['New Name', 'Retail', 'exit']])
  const statusNow = (await app.inject({ url: '/v1/status?as_of=2022-12-31' })).json()
  t.same(statusNow.data.map((p: { service: string }) => p.service), ['Retail'], 'today the deleted event sets no posture')

  // The shadow tables were dropped with their transaction: writes work as before.
  const after = await app.inject({ method: 'PATCH', url: `/v1/events/${event.id}`, headers, payload: { summary: 'still writable' } })
  t.equal(after.statusCode, 200)
  t.equal((await app.inject({ url: '/v1/events' })).json().data.length, 1)
})

t.test('known_at refuses what it cannot answer', async (t) => {
  const app = await buildTestApp(t)
  for (const [url, pointer, headers] of [
    ['/v1/events?known_at=2022-03-10', '/known_at', {}],
    ['/v1/events?known_at=2022-03-10T00:00:00Z&q=amazon', '/q', {}],
    ['/v1/events?known_at=2022-03-10T00:00:00Z', '/known_at', { accept: 'text/csv' }],
    ['/v1/status?known_at=yesterday', '/known_at', {}],
    ['/v1/events/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e?known_at=2022-13-01T00:00:00Z', '/known_at', {}]
  ] as const) {
    const res = await app.inject({ url, headers })
    t.equal(res.statusCode, 400, url)
    t.match(res.json().errors, [{ in: 'querystring', pointer }], url)
  }
})
