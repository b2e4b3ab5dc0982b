export type Interval = 'month' | 'quarter' | 'year'

const MONTHS: Record<Interval, number> = { month: 1, quarter: 3, year: 12 }

/** The first day of the period that holds a date (YYYY-MM-DD). */
export function periodStart (interval: Interval, date: string): string {
  const year = date.slice(0, 4)
  const month = Number(date.slice(5, 7))
  const first = month - ((month - 1) % MONTHS[interval])
  return `${year}-${String(first).padStart(2, '0')}-01`
}

/** The label of the period that starts on a date: `2022-03`, `2022-Q1` or `2022`. */
export function periodLabel (interval: Interval, start: string): string {
  if (interval === 'year') return start.slice(0, 4)
  if (interval === 'quarter') return `${start.slice(0, 4)}-Q${(Number(start.slice(5, 7)) + 2) / 3}`
  return start.slice(0, 7)
}

function nextPeriod (interval: Interval, start: string): string {
  const total = Number(start.slice(0, 4)) * 12 + Number(start.slice(5, 7)) - 1 + MONTHS[interval]
  return `${String(Math.floor(total / 12)).padStart(4, '0')}-${String(total % 12 + 1).padStart(2, '0')}-01`
}

/** The starts of every period from the one holding `from` to the one holding `to`, at most `max` of them (undefined beyond). */
export function periodStarts (interval: Interval, from: string, to: string, max: number): string[] | undefined {
  const last = periodStart(interval, to)
  const starts: string[] = []
  // After 9999-12 comes "10000-01-01", which sorts before every four-digit year: stop there.
  for (let start = periodStart(interval, from); start.length === 10 && start <= last; start = nextPeriod(interval, start)) {
    if (starts.length === max) return undefined
    starts.push(start)
  }
  return starts
}

/** An inclusive span of dates; an undefined end is unbounded. */
export interface DateSpan { from?: string | undefined, to?: string | undefined }

const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10)

/**
 * Splits a span into the whole months or years it covers, [start, end) with undefined for unbounded, and
 * the partial periods at its edges. Counts kept per period answer the whole part; the edges need the rows.
 */
export function splitByPeriods (unit: 'month' | 'year', span: DateSpan): { whole?: { start?: string, end?: string }, edges: DateSpan[] } {
  const from = span.from
  // The last representable day ends nothing: treat it as unbounded.
  const to = span.to === '9999-12-31' ? undefined : span.to
  const start = from === undefined || periodStart(unit, from) === from ? from : nextPeriod(unit, periodStart(unit, from))
  const end = to === undefined ? undefined : periodStart(unit, addDays(to, 1)) === addDays(to, 1) ? addDays(to, 1) : periodStart(unit, to)
  // A span that starts inside the last period before year 10000 has no whole period: it is all edge.
  if (start !== undefined && start.length > 10) return { edges: [span] }
  if (start !== undefined && end !== undefined && start >= end) return { edges: [span] }
  const edges: DateSpan[] = []
  if (from !== undefined && start !== undefined && from < start) edges.push({ from, to: addDays(start, -1) })
  if (to !== undefined && end !== undefined && to >= end) edges.push({ from: end, to })
  return { whole: { start, end }, edges }
}
