import t from 'tap'
import { authHeader, buildTestApp, createCompany } from '../helper.js'

t.test('create then fetch an event', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Amazon' })
  const headers = await authHeader(app)
  const created = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers,
    payload: { company_id: company.id, region: 'ru', service: 'Prime Video', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://Example.com/a#frag' }] }
  })
  t.equal(created.statusCode, 201, created.body)
  const res = await app.inject({ url: `/v1/events/${created.json().id}` })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { region: 'RU', company: { name: 'Amazon' }, sources: [{ url: 'https://example.com/a' }] })
})
