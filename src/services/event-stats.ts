import { and, count, desc, asc, eq, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { companies, events } from '../db/schema.js'
import { periodLabel, periodStart, periodStarts } from '../domain/periods.js'
import type { FacetField, Facets, FacetsQuery, Timeseries, TimeseriesQuery } from '../schemas/insight.js'
import { eventFilterConditions, queryError } from './event-filters.js'

const MAX_BUCKETS = 5000
const NO_SECTOR = 'unknown'

const facetExpressions: Record<FacetField, SQL> = {
  action: sql`${events.action}`,
  region: sql`${events.region}`,
  sector: sql`${companies.sector}`,
  country: sql`${companies.country}`,
  year: sql`to_char(${events.date}, 'YYYY')`,
  month: sql`to_char(${events.date}, 'YYYY-MM')`
}
const groupExpressions = {
  action: sql`${events.action}`,
  region: sql`${events.region}`,
  // Literals, not parameters: the grouped expression must be the same text in SELECT and GROUP BY.
  sector: sql`coalesce(${companies.sector}, ${sql.raw(`'${NO_SECTOR}'`)})`
}

export function createEventStatsService ({ db }: { db: Db }) {
  return {
    /** Exact counts of the events matching the list filters, per value of each requested field. */
    async facets (query: FacetsQuery): Promise<Facets> {
      const { fields = 'action,region,sector,year', ...filters } = query
      const where = and(...eventFilterConditions(filters))
      const requested = [...new Set(fields.split(','))] as FacetField[]
      const counted = await Promise.all(requested.map(async (field) => {
        const value = facetExpressions[field]
        const rows = await db.select({ value: sql<string | null>`${value}`, count: count() })
          .from(events).innerJoin(companies, eq(companies.id, events.companyId))
          .where(where).groupBy(value).orderBy(desc(count()), asc(value))
        return [field, rows] as const
      }))
      return Object.fromEntries(counted)
    },

    /** Counts per period and group, one bucket per period of the range, empty ones included. */
    async timeseries (query: TimeseriesQuery): Promise<Timeseries> {
      const { interval = 'month', group_by: groupBy = 'action', ...filters } = query
      const start = sql`date_trunc(${sql.raw(`'${interval}'`)}, ${events.date})::date`
      const group = groupExpressions[groupBy]
      const rows = await db.select({ start: sql<string>`to_char(${start}, 'YYYY-MM-DD')`, group: sql<string>`${group}`, count: count() })
        .from(events).innerJoin(companies, eq(companies.id, events.companyId))
        .where(and(...eventFilterConditions(filters))).groupBy(start, group)
      const starts = rows.map((r) => r.start).sort()
      const from = filters.date_from ?? starts[0]
      const to = filters.date_to ?? starts.at(-1)
      if (from === undefined || to === undefined) return { interval, group_by: groupBy, buckets: [] }
      const periods = periodStarts(interval, from, to, MAX_BUCKETS)
      if (!periods) throw queryError(filters.date_from ? '/date_from' : '/interval', `spans more than ${MAX_BUCKETS} periods; narrow the dates or use a longer interval`)
      const groups = [...new Set(rows.map((r) => r.group))].sort()
      const buckets = new Map(periods.map((p) => [p, { period: periodLabel(interval, p), start: p, counts: Object.fromEntries(groups.map((g) => [g, 0])), total: 0 }]))
      for (const row of rows) {
        const bucket = buckets.get(periodStart(interval, row.start))!
        bucket.counts[row.group] = row.count
        bucket.total += row.count
      }
      return { interval, group_by: groupBy, buckets: [...buckets.values()] }
    }
  }
}
export type EventStatsService = ReturnType<typeof createEventStatsService>
