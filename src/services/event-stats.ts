import { and, count, eq, gte, inArray, lt, lte, or, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { companies, eventCompanyYearCounts, eventMonthCounts, events, eventYearCounts } from '../db/schema.js'
import { periodLabel, periodStart, periodStarts, splitByPeriods, type DateSpan, type Interval } from '../domain/periods.js'
import type { EventFilters } from '../schemas/events.js'
import type { FacetField, Facets, FacetsQuery, Timeseries, TimeseriesQuery } from '../schemas/insight.js'
import { checkDateRange, eventFilterConditions, parseRegionFilter, queryError } from './event-filters.js'

const MAX_BUCKETS = 5000
const NO_SECTOR = 'unknown'

interface Count { key: string | null, start?: string, count: number }

/**
 * A key on a rollup: one of its columns, or made in Node from the first day of its period (YYYY-MM-DD). A rollup is
 * summed per column and period as stored: making a key or a period start of each of its rows in SQL cost more than the sums.
 */
type RollupKey = SQL | ((period: string) => string)

/**
 * How one grouping is counted: from the events themselves, and, when the filters allow it, from a rollup
 * over the whole months or years of the date range (the partial periods at its edges still come from events).
 */
interface Grouping {
  unit: 'month' | 'year'
  onEvents: SQL
  /** The key on event_month_counts (by month) or event_year_counts (by year). */
  onRollup: RollupKey
  /** The key on event_company_year_counts, which answers yearly counts that filter on neither region nor action. */
  onCompanyRollup?: SQL
}

// Literals, not parameters, in grouped expressions: the text must be the same in SELECT and GROUP BY.
const literal = (text: string) => sql.raw(`'${text}'`)
const monthly = (onEvents: SQL, onRollup: RollupKey): Grouping => ({ unit: 'month', onEvents, onRollup })
const yearly = (onEvents: SQL, onRollup: SQL, onCompanyRollup: SQL): Grouping => ({ unit: 'year', onEvents, onRollup, onCompanyRollup })

const facetGroupings: Record<FacetField, Grouping> = {
  action: monthly(sql`${events.action}`, sql`${eventMonthCounts.action}`),
  region: monthly(sql`${events.region}`, sql`${eventMonthCounts.region}`),
  year: monthly(sql`to_char(${events.date}, 'YYYY')`, (month) => month.slice(0, 4)),
  month: monthly(sql`to_char(${events.date}, 'YYYY-MM')`, (month) => month.slice(0, 7)),
  sector: yearly(sql`${companies.sector}`, sql`${eventYearCounts.sector}`, sql`${eventCompanyYearCounts.sector}`),
  country: yearly(sql`${companies.country}`, sql`${eventYearCounts.country}`, sql`${eventCompanyYearCounts.country}`)
}

function seriesGrouping (groupBy: TimeseriesQuery['group_by'] & string): Grouping {
  const unknownSector = (sector: SQL) => sql`coalesce(${sector}, ${literal(NO_SECTOR)})`
  if (groupBy === 'sector') {
    return yearly(unknownSector(sql`${companies.sector}`), unknownSector(sql`${eventYearCounts.sector}`), unknownSector(sql`${eventCompanyYearCounts.sector}`))
  }
  return monthly(sql`${events[groupBy]}`, sql`${eventMonthCounts[groupBy]}`)
}

/** True when the rollups can answer these filters: they know regions, actions and dates only. */
const rollupsAnswer = (filters: EventFilters) =>
  filters.company_id === undefined && filters.company === undefined && filters.service === undefined && filters.q === undefined &&
  filters.source_id === undefined

/** The rollup that counts a grouping's whole periods under these filters, with its key and the filters' conditions on it. */
function rollupQuery (grouping: Grouping, filters: EventFilters, whole: { start?: string, end?: string }) {
  if (grouping.onCompanyRollup !== undefined && filters.region === undefined && filters.action === undefined) {
    const period = eventCompanyYearCounts.year
    return { rollup: eventCompanyYearCounts, period, key: grouping.onCompanyRollup, conditions: periodConditions(period, whole) }
  }
  const rollup = grouping.unit === 'month' ? eventMonthCounts : eventYearCounts
  const period = rollup === eventMonthCounts ? eventMonthCounts.month : eventYearCounts.year
  const conditions = periodConditions(period, whole)
  if (filters.region !== undefined) {
    const { countries, subdivisions } = parseRegionFilter(filters.region)
    conditions.push(or(
      countries.length > 0 ? inArray(sql`split_part(${rollup.region}, '-', 1)`, countries) : undefined,
      subdivisions.length > 0 ? inArray(rollup.region, subdivisions) : undefined
    )!)
  }
  if (filters.action !== undefined) conditions.push(inArray(rollup.action, filters.action.split(',')))
  return { rollup, period, key: grouping.onRollup, conditions }
}

const periodConditions = (period: AnyColumn, whole: { start?: string, end?: string }): SQL[] => [
  ...(whole.start === undefined ? [] : [gte(period, whole.start)]),
  ...(whole.end === undefined ? [] : [lt(period, whole.end)])
]

const spanCondition = (span: DateSpan) =>
  and(span.from === undefined ? undefined : gte(events.date, span.from), span.to === undefined ? undefined : lte(events.date, span.to))!

export function createEventStatsService ({ db }: { db: Db }) {
  /** Counts of matching live events per key of a grouping (and per period start, with `byPeriod`). */
  async function countBy (grouping: Grouping, filters: EventFilters, byPeriod?: Interval): Promise<Count[]> {
    checkDateRange(filters)
    // A yearly rollup cannot be cut into months or quarters.
    const rollupFits = rollupsAnswer(filters) && !(grouping.unit === 'year' && byPeriod !== undefined && byPeriod !== 'year')
    const split = rollupFits ? splitByPeriods(grouping.unit, { from: filters.date_from, to: filters.date_to }) : undefined
    const spans = split ? split.edges : [{ from: filters.date_from, to: filters.date_to }]
    const undated = { ...filters, date_from: undefined, date_to: undefined }
    const parts: Array<Promise<Count[]>> = []
    if (spans.length > 0) {
      const start = byPeriod ? sql`to_char(date_trunc(${literal(byPeriod)}, ${events.date}), 'YYYY-MM-DD')` : sql`''`
      parts.push(db.select({ key: sql<string | null>`${grouping.onEvents}`, start: sql<string>`${start}`, count: count() })
        .from(events).innerJoin(companies, eq(companies.id, events.companyId))
        .where(and(...eventFilterConditions(undated), or(...spans.map(spanCondition))))
        .groupBy(...(byPeriod ? [grouping.onEvents, start] : [grouping.onEvents])))
    }
    if (split?.whole) parts.push(countRollup(grouping, filters, split.whole, byPeriod))
    return (await Promise.all(parts)).flat()
  }

  /** Counts of the whole periods from a rollup. */
  async function countRollup (grouping: Grouping, filters: EventFilters, whole: { start?: string, end?: string }, byPeriod?: Interval): Promise<Count[]> {
    const { rollup, period, key, conditions } = rollupQuery(grouping, filters, whole)
    const keyFromPeriod = typeof key === 'function' ? key : undefined
    const perPeriod = byPeriod !== undefined || keyFromPeriod !== undefined
    const columns = [...(keyFromPeriod ? [] : [key as SQL]), ...(perPeriod ? [period] : [])]
    const rows = await db.select({
      key: keyFromPeriod ? sql<null>`null` : sql<string | null>`${key}`,
      period: perPeriod ? sql<string>`${period}::text` : sql<string>`''`,
      count: sql<number>`sum(${rollup.events})::int`
    }).from(rollup).where(and(...conditions))
      .groupBy(...columns).having(sql`sum(${rollup.events}) > 0`)
    return rows.map((row) => ({
      key: keyFromPeriod ? keyFromPeriod(row.period) : row.key,
      start: byPeriod ? periodStart(byPeriod, row.period) : '',
      count: row.count
    }))
  }

  return {
    /** Exact counts of the events matching the list filters, per value of each requested field, most frequent first. */
    async facets (query: FacetsQuery): Promise<Facets> {
      const { fields = 'action,region,sector,year', ...filters } = query
      const requested = [...new Set(fields.split(','))] as FacetField[]
      const counted = await Promise.all(requested.map(async (field) => {
        const totals = new Map<string | null, number>()
        for (const { key, count } of await countBy(facetGroupings[field], filters)) totals.set(key, (totals.get(key) ?? 0) + count)
        const values = [...totals].map(([value, n]) => ({ value, count: n }))
          .sort((a, b) => b.count - a.count || compareValues(a.value, b.value))
        return [field, values] as const
      }))
      return Object.fromEntries(counted)
    },

    /** Counts per period and group, one bucket per period of the range, empty ones included. */
    async timeseries (query: TimeseriesQuery): Promise<Timeseries> {
      const { interval = 'month', group_by: groupBy = 'action', ...filters } = query
      const grouping = seriesGrouping(groupBy)
      const rows = await countBy(grouping, filters, interval)
      const starts = rows.map((r) => r.start!).sort()
      const from = filters.date_from ?? starts[0]
      const to = filters.date_to ?? starts.at(-1)
      if (from === undefined || to === undefined) return { interval, group_by: groupBy, buckets: [] }
      const periods = periodStarts(interval, from, to, MAX_BUCKETS)
      if (!periods) throw queryError(filters.date_from ? '/date_from' : '/interval', `spans more than ${MAX_BUCKETS} periods; narrow the dates or use a longer interval`)
      const groups = [...new Set(rows.map((r) => r.key!))].sort()
      const buckets = new Map(periods.map((p) => [p, { period: periodLabel(interval, p), start: p, counts: Object.fromEntries(groups.map((g) => [g, 0])), total: 0 }]))
      for (const row of rows) {
        const bucket = buckets.get(periodStart(interval, row.start!))!
        bucket.counts[row.key!] = bucket.counts[row.key!]! + row.count
        bucket.total += row.count
      }
      return { interval, group_by: groupBy, buckets: [...buckets.values()] }
    }
  }
}

/** Values in ascending order, null last. */
function compareValues (a: string | null, b: string | null): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  return a < b ? -1 : 1
}
export type EventStatsService = ReturnType<typeof createEventStatsService>
