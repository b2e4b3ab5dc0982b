import t from 'tap'
import { companyName, loadDataset } from '../../bench/dataset.js'
import { buildTestApp } from '../helper.js'

// The benchmark's fast loader writes the tables with the triggers off: what they derive must be written too, or the
// scenarios that read it (company match, search, facets) measure an empty table.
t.test("the benchmark's direct load leaves what the triggers would have: names to match, search, rollups", async (t) => {
  const app = await buildTestApp(t)
  const size = { companies: 30, events: 300, seed: 42 }
  await loadDataset(app.db, size)

  const match = await app.inject({ method: 'POST', url: '/v1/companies/match', payload: { names: [{ name: companyName(7).toUpperCase() }] } })
  t.equal(match.statusCode, 200, match.body)
  t.match(match.json().data[0].candidates[0], { company: { name: companyName(7) }, score: 1, matched_on: 'name' }, 'a company is matched by its name')

  const found = await app.inject({ url: `/v1/companies?q=${encodeURIComponent(companyName(7))}` })
  t.match(found.json().data[0], { name: companyName(7) }, 'and found by search')

  const facets = await app.inject({ url: '/v1/events/facets?fields=action' })
  t.equal(facets.statusCode, 200, facets.body)
  const counted = facets.json().action.reduce((sum: number, v: { count: number }) => sum + v.count, 0)
  t.equal(counted, size.events, 'the rollups count every event')
})
