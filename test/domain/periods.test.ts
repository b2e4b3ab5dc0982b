import t from 'tap'
import { periodLabel, periodStart, periodStarts, splitByPeriods } from '../../src/domain/periods.js'

t.test('periodStart: the first day of the month, quarter or year that holds a date', async (t) => {
  const cases: Array<[Parameters<typeof periodStart>[0], string, string]> = [
    ['month', '2022-03-17', '2022-03-01'],
    ['month', '2022-03-01', '2022-03-01'],
    ['month', '2022-12-31', '2022-12-01'],
    ['quarter', '2022-01-01', '2022-01-01'],
    ['quarter', '2022-03-31', '2022-01-01'],
    ['quarter', '2022-04-01', '2022-04-01'],
    ['quarter', '2022-06-30', '2022-04-01'],
    ['quarter', '2022-08-15', '2022-07-01'],
    ['quarter', '2022-10-01', '2022-10-01'],
    ['quarter', '2022-12-31', '2022-10-01'],
    ['year', '2022-01-01', '2022-01-01'],
    ['year', '2022-07-04', '2022-01-01'],
    ['year', '2022-12-31', '2022-01-01'],
    ['month', '0999-02-28', '0999-02-01'],
    ['year', '0001-05-05', '0001-01-01']
  ]
  for (const [interval, date, start] of cases) t.equal(periodStart(interval, date), start, `${interval} of ${date}`)
})

t.test('periodLabel: 2022-03, 2022-Q1, 2022', async (t) => {
  t.equal(periodLabel('month', '2022-03-01'), '2022-03')
  t.equal(periodLabel('month', '2022-12-01'), '2022-12')
  t.equal(periodLabel('quarter', '2022-01-01'), '2022-Q1')
  t.equal(periodLabel('quarter', '2022-04-01'), '2022-Q2')
  t.equal(periodLabel('quarter', '2022-07-01'), '2022-Q3')
  t.equal(periodLabel('quarter', '2022-10-01'), '2022-Q4')
  t.equal(periodLabel('year', '2022-01-01'), '2022')
  t.equal(periodLabel('year', '0999-01-01'), '0999')
})

t.test('periodStarts: every period from the one holding `from` to the one holding `to`', async (t) => {
  t.same(periodStarts('month', '2021-11-20', '2022-02-03', 100), ['2021-11-01', '2021-12-01', '2022-01-01', '2022-02-01'], 'months across a year end')
  t.same(periodStarts('month', '2022-03-05', '2022-03-25', 100), ['2022-03-01'], 'one month')
  t.same(periodStarts('quarter', '2021-12-31', '2022-07-01', 100), ['2021-10-01', '2022-01-01', '2022-04-01', '2022-07-01'], 'quarters')
  t.same(periodStarts('year', '2020-06-01', '2022-01-01', 100), ['2020-01-01', '2021-01-01', '2022-01-01'], 'years')
  t.same(periodStarts('year', '0998-06-01', '1000-01-01', 100), ['0998-01-01', '0999-01-01', '1000-01-01'], 'years are padded to four digits')
  t.same(periodStarts('month', '2022-05-01', '2022-03-01', 100), [], 'from after to: no periods')
  t.same(periodStarts('month', '9999-11-15', '9999-12-31', 5000), ['9999-11-01', '9999-12-01'], 'the last months there are')
  t.same(periodStarts('quarter', '9999-12-31', '9999-12-31', 5000), ['9999-10-01'], 'the last quarter')
  t.same(periodStarts('year', '9998-01-01', '9999-12-31', 5000), ['9998-01-01', '9999-01-01'], 'the last years')
})

t.test('periodStarts: at most `max` periods, undefined beyond', async (t) => {
  t.same(periodStarts('month', '2022-01-01', '2022-03-31', 3), ['2022-01-01', '2022-02-01', '2022-03-01'], 'exactly max')
  t.equal(periodStarts('month', '2022-01-01', '2022-04-01', 3), undefined, 'one more than max')
  const fiveThousand = periodStarts('month', '2000-01-01', '2416-08-31', 5000)
  t.equal(fiveThousand?.length, 5000, '5000 months fit in 5000')
  t.equal(fiveThousand?.at(-1), '2416-08-01')
  t.equal(periodStarts('month', '2000-01-01', '2416-09-01', 5000), undefined, '5001 months do not')
  t.equal(periodStarts('year', '0001-01-01', '9999-12-31', 5000), undefined, 'too many years')
  t.equal(periodStarts('quarter', '2000-01-01', '2000-01-01', 1)?.length, 1)
})

t.test('splitByPeriods: whole months or years, and the partial ones at the edges', async (t) => {
  t.same(splitByPeriods('month', { from: '2022-03-01', to: '2022-06-30' }), { whole: { start: '2022-03-01', end: '2022-07-01' }, edges: [] },
    'whole months only')
  t.same(splitByPeriods('month', { from: '2022-03-15', to: '2022-06-10' }), {
    whole: { start: '2022-04-01', end: '2022-06-01' },
    edges: [{ from: '2022-03-15', to: '2022-03-31' }, { from: '2022-06-01', to: '2022-06-10' }]
  }, 'partial months at both edges')
  t.same(splitByPeriods('month', { from: '2022-03-05', to: '2022-03-20' }), { edges: [{ from: '2022-03-05', to: '2022-03-20' }] }, 'inside one month')
  t.same(splitByPeriods('month', { from: '2022-03-15', to: '2022-04-10' }), { edges: [{ from: '2022-03-15', to: '2022-04-10' }] },
    'across a month boundary without a whole month')
  t.same(splitByPeriods('year', { from: '2022-01-01' }), { whole: { start: '2022-01-01', end: undefined }, edges: [] }, 'open end')
  t.same(splitByPeriods('year', { to: '2022-12-31' }), { whole: { start: undefined, end: '2023-01-01' }, edges: [] }, 'open start')
  t.same(splitByPeriods('year', {}), { whole: { start: undefined, end: undefined }, edges: [] }, 'unbounded')
  t.same(splitByPeriods('month', { to: '2024-02-29' }), { whole: { start: undefined, end: '2024-03-01' }, edges: [] }, 'a leap day ends February')
  t.same(splitByPeriods('month', { to: '2023-02-28' }), { whole: { start: undefined, end: '2023-03-01' }, edges: [] }, 'so does the 28th in other years')
  t.same(splitByPeriods('month', { to: '2024-02-28' }), { whole: { start: undefined, end: '2024-02-01' }, edges: [{ from: '2024-02-01', to: '2024-02-28' }] },
    'but not in a leap year')
})

/** Days as UTC dates, with years of four digits only (undefined beyond 9999). */
function shift (date: string, days: number): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return undefined
  const shifted = new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString()
  return /^\d{4}-/.test(shifted) ? shifted.slice(0, 10) : undefined
}

t.test('splitByPeriods: the whole part and the edges cover exactly the span, once', async (t) => {
  const spans = [
    {}, { from: '2022-03-15' }, { to: '2022-03-15' }, { from: '2021-12-31', to: '2023-01-01' }, { from: '2022-01-01', to: '2022-12-31' },
    { from: '2022-02-28', to: '2022-03-01' }, { from: '2024-02-29', to: '2024-02-29' }, { from: '0001-01-01', to: '0001-02-15' },
    { from: '0001-01-15' }, { to: '9999-12-31' }, { from: '9999-01-01' }, { from: '9999-06-15' }, { from: '9999-12-01' },
    { from: '9999-12-02' }, { from: '9999-12-31' }, { from: '9998-12-31', to: '9999-12-31' }, { from: '9999-12-02', to: '9999-12-31' }
  ]
  for (const unit of ['month', 'year'] as const) {
    for (const span of spans) {
      const { whole, edges } = splitByPeriods(unit, span)
      for (const bound of [whole?.start, whole?.end]) {
        if (bound !== undefined) t.match(bound, /^\d{4}-\d{2}-\d{2}$/, `${unit} ${JSON.stringify(span)}: ${bound} is a date`)
      }
      if (whole?.start !== undefined) t.equal(periodStart(unit, whole.start), whole.start, `${unit} ${JSON.stringify(span)}: the whole part starts a period`)
      if (whole?.end !== undefined) t.equal(periodStart(unit, whole.end), whole.end, `${unit} ${JSON.stringify(span)}: and ends at one`)
      const probes = new Set(['0001-01-01', '0001-01-31', '2022-03-15', '2024-02-29', '9999-12-01', '9999-12-31'])
      for (const d of [span.from, span.to, whole?.start, whole?.end]) {
        for (const days of [-1, 0, 1]) {
          const p = d === undefined ? undefined : shift(d, days)
          if (p !== undefined) probes.add(p)
        }
      }
      const misses: string[] = []
      for (const day of probes) {
        const inSpan = (span.from === undefined || day >= span.from) && (span.to === undefined || day <= span.to)
        const inWhole = whole !== undefined && (whole.start === undefined || day >= whole.start) && (whole.end === undefined || day < whole.end)
        const inEdges = edges.filter((e) => (e.from === undefined || day >= e.from) && (e.to === undefined || day <= e.to)).length
        if ((inSpan ? 1 : 0) !== (inWhole ? 1 : 0) + inEdges) misses.push(day)
      }
      t.same(misses, [], `${unit} ${JSON.stringify(span)}: every day counted once if in the span, else never`)
    }
  }
})
