import t from 'tap'
import { matchesFilters, subjectOf } from '../../src/domain/webhook-filters.js'

const company = '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'
const event = { companyId: company, region: 'UA-43', action: 'exit' }

t.test('no filters match everything; every given filter must match', async (t) => {
  t.ok(matchesFilters({}, event))
  t.ok(matchesFilters({}, { companyId: company }))
  t.ok(matchesFilters({ company_id: [company], region: ['UA-43'], action: ['exit', 'suspend'] }, event))
  t.notOk(matchesFilters({ company_id: [company], action: ['suspend'] }, event), 'one failing filter is enough')
  t.notOk(matchesFilters({ company_id: ['01936f0e-0000-7cc1-9b8a-4f2a1e3c5d6e'] }, event))
})

t.test('a country matches its subdivisions, not the other way round', async (t) => {
  t.ok(matchesFilters({ region: ['UA'] }, event))
  t.notOk(matchesFilters({ region: ['UA-40'] }, event))
  t.notOk(matchesFilters({ region: ['UA-43'] }, { ...event, region: 'UA' }))
  t.notOk(matchesFilters({ region: ['U'] }, event), 'a prefix that is not a country')
})

t.test('a filter on a field a change lacks does not match it', async (t) => {
  t.ok(matchesFilters({ company_id: [company] }, { companyId: company }), 'a company change matches its company filter')
  t.notOk(matchesFilters({ region: ['UA'] }, { companyId: company }))
  t.notOk(matchesFilters({ action: ['exit'] }, { companyId: company }))
})

t.test('the subject of a change comes from its history row', async (t) => {
  t.same(subjectOf('company', company, { name: 'Acme' }), { companyId: company })
  t.same(subjectOf('event', 'x', { company_id: company, region: 'RU', action: 'suspend', service: 'Retail' }), { companyId: company, region: 'RU', action: 'suspend' })
  t.same(subjectOf('event', 'x', null), { companyId: undefined, region: undefined, action: undefined })
})
