import t from 'tap'
import { listFormatFor, neutraliseFormula } from '../../src/domain/export-formats.js'

t.test('Accept chooses the list format', async (t) => {
  t.equal(listFormatFor(undefined), 'json')
  t.equal(listFormatFor('*/*'), 'json')
  t.equal(listFormatFor('application/json'), 'json')
  t.equal(listFormatFor('text/csv'), 'csv')
  t.equal(listFormatFor('text/*'), 'csv')
  t.equal(listFormatFor('application/x-ndjson'), 'ndjson')
  t.equal(listFormatFor('application/json;q=0.5, text/csv'), 'csv', 'quality values count')
  t.equal(listFormatFor('image/png'), undefined, 'nothing we make')
})

t.test('cells that a spreadsheet would run are neutralised', async (t) => {
  for (const cell of ['=1+1', '+1', '-1', '@SUM(A1)', '\tx', '\rx', '=HYPERLINK("http://evil")']) t.equal(neutraliseFormula(cell), `'${cell}`)
  for (const cell of ['Amazon', '2022-03-08', 'a=b', '', ' =x']) t.equal(neutraliseFormula(cell), cell)
})
