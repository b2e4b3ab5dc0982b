import { gte, inArray, isNull, lte, or, sql, type SQL } from 'drizzle-orm'
import { companies, events, eventSources } from '../db/schema.js'
import { escapeLike } from '../domain/like.js'
import { isCountryLevel, isRegionCode } from '../domain/regions.js'
import { InvalidInput } from '../errors.js'
import type { EventFilters } from '../schemas/events.js'
import { asValue, type Bind } from './keyset.js'

type EventRow = typeof events.$inferSelect

export const queryError = (pointer: string, message: string) => new InvalidInput({ in: 'querystring', pointer, message })

/** Splits a comma-separated region filter into country codes (matching subdivisions too) and subdivision codes. */
export function parseRegionFilter (value: string): { countries: string[], subdivisions: string[] } {
  const codes = [...new Set(value.toUpperCase().split(','))]
  if (codes.length > 100) throw queryError('/region', 'must list at most 100 codes')
  const unknown = codes.find((c) => !isRegionCode(c))
  if (unknown) throw queryError('/region', `unknown region code '${unknown}'`)
  return { countries: codes.filter(isCountryLevel), subdivisions: codes.filter((c) => !isCountryLevel(c)) }
}

/** Refuses a date range that ends before it starts. */
export function checkDateRange (query: Pick<EventFilters, 'date_from' | 'date_to'>): void {
  if (query.date_from !== undefined && query.date_to !== undefined && query.date_from > query.date_to) {
    throw queryError('/date_to', 'must not be before date_from')
  }
}

/** The SQL conditions of the contract's event filters, live events only. */
export function eventFilterConditions (query: EventFilters, bind: Bind = asValue): SQL[] {
  const filters: SQL[] = [isNull(events.deletedAt)]
  const each = <T>(name: string, values: T[]) => values.map((v, i) => bind(`${name}${i}`, v))
  if (query.company_id !== undefined) {
    const ids = [...new Set(query.company_id.toLowerCase().split(','))]
    if (ids.length > 100) throw queryError('/company_id', 'must list at most 100 ids')
    filters.push(inArray(events.companyId, each('company_id', ids)))
  }
  if (query.company !== undefined) {
    filters.push(inArray(events.companyId, sql`(SELECT ${companies.id} FROM ${companies}
      WHERE ${companies.nameSearch} LIKE '%' || fold_text(${bind('company', escapeLike(query.company))}) || '%' AND ${companies.deletedAt} IS NULL)`))
  }
  if (query.region !== undefined) {
    const { countries, subdivisions } = parseRegionFilter(query.region)
    filters.push(or(
      countries.length > 0 ? inArray(events.regionCountry, each('country', countries)) : undefined,
      subdivisions.length > 0 ? inArray(events.region, each('subdivision', subdivisions)) : undefined
    )!)
  }
  if (query.action !== undefined) filters.push(inArray(events.action, each('action', query.action.split(',') as EventRow['action'][])))
  if (query.service !== undefined) {
    filters.push(sql`lower(${events.service}) LIKE '%' || lower(${bind('service', escapeLike(query.service))}) || '%'`)
  }
  if (query.source_id !== undefined) {
    filters.push(inArray(events.id, sql`(SELECT ${eventSources.eventId} FROM ${eventSources} WHERE ${eventSources.sourceId} = ${bind('source_id', query.source_id.toLowerCase())})`))
  }
  checkDateRange(query)
  if (query.date_from !== undefined) filters.push(gte(events.date, bind('date_from', query.date_from)))
  if (query.date_to !== undefined) filters.push(lte(events.date, bind('date_to', query.date_to)))
  if (query.q !== undefined) filters.push(sql`${events.search} @@ search_query(${bind('q', query.q)})`)
  return filters
}
