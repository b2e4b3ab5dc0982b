import t from 'tap'
import { YALE_SOURCE, cleanCell, countryCode, yaleExternalId, yaleLine } from '../../src/domain/yale-celi.js'

t.test('cells are unescaped, collapsed and trimmed as the snapshots were', async (t) => {
  t.equal(cleanCell(' Procter &amp; Gamble  (P&amp;G) '), 'Procter & Gamble (P&G)')
  t.equal(cleanCell('Nestl&#233; &#x26; Co &unknown;'), 'Nestlé & Co &unknown;')
  t.equal(cleanCell(undefined), '')
})

t.test('countries are ISO codes, or null when empty or unknown', async (t) => {
  t.equal(countryCode('United States '), 'US')
  t.equal(countryCode('Danish'), 'DK')
  t.equal(countryCode(''), null)
  t.equal(countryCode('Atlantis'), null)
})

t.test('external ids are stable per name and country, ignoring case, accents and entities; snapshots add the date', async (t) => {
  const id = yaleExternalId('Carl\'s Jr. | CLK', 'United States')
  t.match(id, /^yale-celi:carl-s-jr-clk-[0-9a-f]{12}$/)
  t.equal(yaleExternalId(' carl&#39;s jr. |  clk', 'united states '), id)
  t.not(yaleExternalId('Carl\'s Jr. | CLK', 'Canada'), id)
  t.equal(yaleExternalId('Nestlé', 'Switzerland'), yaleExternalId('NESTLE', 'Switzerland'))
  t.match(yaleExternalId('Agrana', 'Austria', '2022-07-30'), /^yale-celi:2022-07-30:agrana-[0-9a-f]{12}$/)
  t.ok(yaleExternalId('x'.repeat(500), 'Austria').length <= 200)
})

t.test('a row becomes a company and an event in Russia, the grade as the action', async (t) => {
  t.same(yaleLine({ name: 'Agrana', action: 'continue operating plant', industry: 'Consumer Staples', country: 'Austria', grade: 'f' }, '2025-05-21'), {
    line: {
      company: { name: 'Agrana', country: 'AT', sector: 'Consumer Staples' },
      region: 'RU',
      service: 'All operations',
      action: 'continue',
      date: '2025-05-21',
      summary: 'continue operating plant',
      sources: [YALE_SOURCE],
      external_id: yaleExternalId('Agrana', 'Austria')
    }
  })
  for (const [grade, action] of [['A', 'exit'], ['B', 'suspend'], ['C', 'scale_back'], ['D', 'pause_new_business'], ['F', 'continue']]) {
    t.match(yaleLine({ name: 'X', grade }, '2022-07-30'), { line: { action } })
  }
  t.same(yaleLine({ name: 'UiPath', grade: '' }, '2023-09-22'), { field: '/grade', message: 'is empty' })
  t.same(yaleLine({ name: 'X', grade: 'E' }, '2023-09-22'), { field: '/grade', message: "'E' is not a Yale grade (A, B, C, D or F)" })
  t.same(yaleLine({ name: 'X', grade: 'A', country: ' Narnia ' }, '2023-09-22'), { field: '/country', message: "'Narnia' is not a country of Yale's list" },
    'an unknown country is rejected, not dropped')
  t.match(yaleLine({ name: 'X', grade: 'A', country: '' }, '2023-09-22'), { line: { company: { name: 'X', country: null } } }, 'an empty one is none')
  t.same(yaleLine({ name: ' ', grade: 'A' }, '2023-09-22'), { field: '/name', message: 'is empty' })
  t.match(yaleLine({ name: 'X', grade: 'A', action: '', industry: '' }, '2023-09-22'), { line: { summary: null, company: { name: 'X', country: null } } })
})
