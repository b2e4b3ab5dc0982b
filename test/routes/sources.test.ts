import t from 'tap'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

t.test('sources carry kind, archived_url and license, and events count their sources', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const res = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: {
      company_id: company.id,
      region: 'RU',
      service: 'All operations',
      action: 'exit',
      date: '2022-03-08',
      sources: [
        { url: 'https://Example.com/statement#top', kind: 'company_statement', archived_url: 'https://web.archive.org/web/2022/https://example.com/statement' },
        { url: 'https://data.example.org/list.csv', kind: 'dataset', license: 'CC BY-NC-SA 4.0', quote: 'Grade A' }
      ]
    }
  })
  t.equal(res.statusCode, 201, res.body)
  const event = res.json()
  t.equal(event.source_count, 2)
  t.match(event.sources, [
    { url: 'https://example.com/statement', kind: 'company_statement', archived_url: 'https://web.archive.org/web/2022/https://example.com/statement', license: null },
    { url: 'https://data.example.org/list.csv', kind: 'dataset', archived_url: null, license: 'CC BY-NC-SA 4.0', quote: 'Grade A' }
  ])

  // A later citation fills gaps only.
  const later = await createEvent(app, { company_id: company.id, service: 'Retail', sources: [{ url: 'https://example.com/statement', kind: 'media_report', license: 'CC BY 4.0' }] })
  t.match(later.sources[0], { kind: 'company_statement', license: 'CC BY 4.0' })

  for (const bad of [{ kind: 'rumour' }, { archived_url: 'ftp://archive.example/x' }, { license: 'x'.repeat(201) }]) {
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/events',
      headers,
      payload: { company_id: company.id, region: 'RU', service: 'X', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://example.com/z', ...bad }] }
    })
    t.equal(refused.statusCode, 400, JSON.stringify(bad))
    t.match(refused.json().errors, [{ in: 'body', pointer: `/sources/0/${Object.keys(bad)[0]}` }])
  }
})

t.test('GET /v1/sources?url= finds a source and the events it supports', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Cited Co' })
  const url = 'https://news.example.com/cited'
  const first = await createEvent(app, { company_id: company.id, service: 'A', date: '2022-03-01', sources: [{ url, title: 'Cited', quote: 'one' }] })
  const second = await createEvent(app, { company_id: company.id, service: 'B', date: '2022-04-01', sources: [{ url: 'https://NEWS.example.com/cited#x' }] })
  await createEvent(app, { company_id: company.id, service: 'C' })
  const deleted = await createEvent(app, { company_id: company.id, service: 'D', sources: [{ url }] })
  await app.inject({ method: 'DELETE', url: `/v1/events/${deleted.id}`, headers: await authHeader(app) })

  const res = await app.inject({ url: `/v1/sources?url=${encodeURIComponent('https://news.EXAMPLE.com/cited')}` })
  t.equal(res.statusCode, 200)
  const body = res.json()
  t.equal(body.data.length, 1)
  t.match(body.data[0], { url, title: 'Cited', event_count: 2 })
  t.same(body.data[0].events.map((e: { id: string }) => e.id), [second.id, first.id], 'live citing events, newest first')
  t.match(body.data[0].events[1], { company: { id: company.id, name: 'Cited Co' }, service: 'A', quote: 'one' })

  const listed = await app.inject({ url: `/v1/events?source_id=${body.data[0].id}` })
  t.same(listed.json().data.map((e: { id: string }) => e.id).sort(), [first.id, second.id].sort(), 'the events list filters by source')

  const none = await app.inject({ url: '/v1/sources?url=https://nowhere.example.com/' })
  t.same(none.json(), { data: [], next_cursor: null })

  // Two sources in all: the cited one and the third event's.
  const all = await app.inject({ url: '/v1/sources?limit=1' })
  t.equal(all.json().data.length, 1)
  const rest = await app.inject({ url: `/v1/sources?limit=1&cursor=${all.json().next_cursor}` })
  t.equal(rest.json().data.length, 1)
  t.equal(rest.json().next_cursor, null)
  t.not(rest.json().data[0].id, all.json().data[0].id)

  const bad = await app.inject({ url: '/v1/sources?url=javascript:alert(1)' })
  t.equal(bad.statusCode, 400)
  t.match(bad.json().errors, [{ in: 'querystring', pointer: '/url' }])
})
