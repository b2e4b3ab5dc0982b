import { and, inArray, lte, sql, type SQL } from 'drizzle-orm'
import { queryRows, type Db } from '../db/client.js'
import { companies, events } from '../db/schema.js'
import { postureIntervals } from '../domain/postures.js'
import type { Event } from '../schemas/events.js'
import type { StatusChanges, StatusChangesQuery, StatusList, StatusQuery, Timeline } from '../schemas/insight.js'
import type { CompanyService } from './companies.js'
import { eventFilterConditions, queryError } from './event-filters.js'
import type { EventService } from './events.js'
import { Keyset, type SortKey } from './keyset.js'

type Action = Event['action']
type Precision = Event['date_precision']

interface PostureRow {
  company_id: string
  company_name: string
  region: string
  service: string
  action: Action
  date: string
  date_precision: Precision
  event_id: string
}

// Postures are listed by company name, then company id, region and service: one key per posture.
const postureOrder: SortKey[] = [
  { expression: sql.raw('company_name'), kind: 'text' },
  { expression: sql.raw('company_id'), kind: 'uuid' },
  { expression: sql.raw('region'), kind: 'text' },
  { expression: sql.raw('service'), kind: 'text' }
]
const keyOf = (r: { company_name: string, company_id: string, region: string, service: string }) =>
  [r.company_name, r.company_id, r.region, r.service]

/** The conditions on events that the posture filters set (the company's sector and country included). */
function postureConditions (query: Omit<StatusQuery, 'action' | 'as_of' | 'limit' | 'cursor'>): SQL[] {
  const conditions = eventFilterConditions({ region: query.region, company_id: query.company_id, service: query.service })
  const companyConditions: SQL[] = [sql`${companies.deletedAt} IS NULL`]
  if (query.sector !== undefined) companyConditions.push(sql`${companies.sector} = ${query.sector}`)
  if (query.country !== undefined) companyConditions.push(sql`${companies.country} = ${query.country.toUpperCase()}`)
  if (companyConditions.length > 1) {
    conditions.push(inArray(events.companyId, sql`(SELECT ${companies.id} FROM ${companies} WHERE ${and(...companyConditions)})`))
  }
  return conditions
}

/** The latest event per (company, region, service) among the rows of `source` matching `conditions`: the postures. */
const latestPerKey = (source: SQL, conditions: SQL[]) => sql`
  SELECT DISTINCT ON (company_id, region, service) company_id, region, service, action, date::text AS date, date_precision, id AS event_id
  FROM ${source}
  WHERE ${and(...conditions)}
  ORDER BY company_id, region, service, date DESC, created_at DESC, id DESC`

const today = () => new Date().toISOString().slice(0, 10)

const posture = (r: { action: Action | null, date: string | null, date_precision: Precision | null, event_id: string | null }) =>
  r.action === null ? null : { action: r.action, date: r.date!, date_precision: r.date_precision!, event_id: r.event_id! }

export function createPostureService ({ db, companies: companyService, events: eventService }: {
  db: Db, companies: CompanyService, events: EventService
}) {
  return {
    /** Each company's posture per region and service on a date: the action of its latest event there by then. */
    async status (query: StatusQuery): Promise<StatusList> {
      const limit = query.limit ?? 50
      const asOf = query.as_of ?? today()
      const keyset = new Keyset(postureOrder, false, { ...query, as_of: asOf })
      const actions = query.action?.split(',')
      const rows = await queryRows<PostureRow>(db, sql`
        SELECT * FROM (
          SELECT p.*, c.name AS company_name
          FROM (${latestPerKey(sql`${events}`, [...postureConditions(query), lte(events.date, asOf)])}) p
          JOIN ${companies} c ON c.id = p.company_id
        ) postures
        WHERE ${and(actions ? sql`action IN ${actions}` : undefined, keyset.condition()) ?? sql`true`}
        ORDER BY ${sql.join(keyset.orderBy(), sql`, `)}
        LIMIT ${limit + 1}`)
      const page = keyset.page(rows, limit, keyOf)
      return {
        data: page.rows.map((r) => ({ company: { id: r.company_id, name: r.company_name }, region: r.region, service: r.service, ...posture(r)! })),
        next_cursor: page.nextCursor
      }
    },

    /** The companies, regions and services whose posture on `to` differs from the one on `from`. */
    async changes (query: StatusChangesQuery): Promise<StatusChanges> {
      if (query.from >= query.to) throw queryError('/to', 'must be after from')
      const limit = query.limit ?? 50
      const keyset = new Keyset(postureOrder, false, query)
      const conditions = postureConditions(query)
      // Only a key with an event in (from, to] can have changed.
      type ChangeRow = Omit<PostureRow, 'action' | 'date' | 'date_precision' | 'event_id'> & Record<
        'before_action' | 'before_date' | 'before_date_precision' | 'before_event_id' | 'after_action' | 'after_date' | 'after_date_precision' | 'after_event_id', string | null>
      const rows = await queryRows<ChangeRow>(db, sql`
        WITH changed_keys AS (
          SELECT DISTINCT company_id, region, service FROM ${events}
          WHERE ${and(...conditions, sql`${events.date} > ${query.from}`, lte(events.date, query.to))}
        ),
        candidates AS (
          SELECT e.* FROM ${events} e JOIN changed_keys k USING (company_id, region, service) WHERE e.deleted_at IS NULL
        ),
        before AS (${latestPerKey(sql`candidates`, [sql`date <= ${query.from}`])}),
        after AS (${latestPerKey(sql`candidates`, [sql`date <= ${query.to}`])})
        SELECT * FROM (
          SELECT k.company_id, c.name AS company_name, k.region, k.service,
            b.action AS before_action, b.date AS before_date, b.date_precision AS before_date_precision, b.event_id AS before_event_id,
            a.action AS after_action, a.date AS after_date, a.date_precision AS after_date_precision, a.event_id AS after_event_id
          FROM changed_keys k
          JOIN ${companies} c ON c.id = k.company_id
          LEFT JOIN before b USING (company_id, region, service)
          LEFT JOIN after a USING (company_id, region, service)
          WHERE b.action IS DISTINCT FROM a.action
        ) changes
        WHERE ${keyset.condition() ?? sql`true`}
        ORDER BY ${sql.join(keyset.orderBy(), sql`, `)}
        LIMIT ${limit + 1}`)
      const page = keyset.page(rows, limit, keyOf)
      const side = (r: ChangeRow, prefix: 'before' | 'after') => posture({
        action: r[`${prefix}_action`] as Action | null,
        date: r[`${prefix}_date`],
        date_precision: r[`${prefix}_date_precision`] as Precision | null,
        event_id: r[`${prefix}_event_id`]
      })
      return {
        data: page.rows.map((r) => ({
          company: { id: r.company_id, name: r.company_name }, region: r.region, service: r.service, before: side(r, 'before'), after: side(r, 'after')
        })),
        next_cursor: page.nextCursor
      }
    },

    /** A company's live events per region, with the posture intervals they imply. */
    async timeline (companyId: string): Promise<Timeline> {
      const company = await companyService.get(companyId)
      const byRegion = new Map<string, Event[]>()
      for (const event of await eventService.allOfCompany(companyId)) {
        byRegion.set(event.region, [...(byRegion.get(event.region) ?? []), event])
      }
      return {
        company: { id: company.id, name: company.name },
        regions: [...byRegion.keys()].sort().map((region) => {
          const regionEvents = byRegion.get(region)!
          return { region, events: regionEvents, intervals: postureIntervals(regionEvents) }
        })
      }
    }
  }
}
export type PostureService = ReturnType<typeof createPostureService>
