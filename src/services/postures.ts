import { and, lte, sql, type SQL } from 'drizzle-orm'
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
  { expression: sql.raw('c.name'), kind: 'text' },
  { expression: sql.raw('c.id'), kind: 'uuid' },
  { expression: sql.raw('p.region'), kind: 'text' },
  { expression: sql.raw('p.service'), kind: 'text' }
]
const keyOf = (r: { company_name: string, company_id: string, region: string, service: string }) =>
  [r.company_name, r.company_id, r.region, r.service]

type PostureFilters = Omit<StatusQuery, 'action' | 'as_of' | 'limit' | 'cursor'>

/** Conditions on the companies `c` that the posture filters and the cursor set. */
function companyConditions (query: PostureFilters, keyset: Keyset): SQL[] {
  const conditions: SQL[] = [sql`c.deleted_at IS NULL`]
  if (query.company_id !== undefined) conditions.push(sql`c.id IN ${[...new Set(query.company_id.toLowerCase().split(','))]}`)
  if (query.sector !== undefined) conditions.push(sql`c.sector = ${query.sector}`)
  if (query.country !== undefined) conditions.push(sql`c.country = ${query.country.toUpperCase()}`)
  // Lets the walk over companies in name order start at the cursor's company, not at the first one.
  if (keyset.after) conditions.push(sql`(c.name, c.id) >= (${keyset.after[0]}, ${keyset.after[1]}::uuid)`)
  return conditions
}

/** Conditions on one company's events that the posture filters set. */
const eventConditions = (query: PostureFilters): SQL[] => [
  sql`${events.companyId} = c.id`,
  ...eventFilterConditions({ region: query.region, service: query.service })
]

/** The latest event per (region, service) among `source` rows matching `conditions`, most recent first by date, record time and id. */
const latestPerKey = (source: SQL, conditions: SQL[]) => sql`
  SELECT DISTINCT ON (region, service) region, service, action, date::text AS date, date_precision, id AS event_id
  FROM ${source}
  WHERE ${and(...conditions)}
  ORDER BY region, service, date DESC, created_at DESC, id DESC`

const today = () => new Date().toISOString().slice(0, 10)

const posture = (r: { action: Action | null, date: string | null, date_precision: Precision | null, event_id: string | null }) =>
  r.action === null ? null : { action: r.action, date: r.date!, date_precision: r.date_precision!, event_id: r.event_id! }

export function createPostureService ({ db, companies: companyService, events: eventService }: {
  db: Db, companies: CompanyService, events: EventService
}) {
  return {
    /**
     * Each company's posture per region and service on a date: the action of its latest event there by then.
     * Companies are walked in name order and each one's postures found through the posture index, so a page
     * costs about as much as the companies it covers.
     */
    async status (query: StatusQuery): Promise<StatusList> {
      const limit = query.limit ?? 50
      const asOf = query.as_of ?? today()
      const keyset = new Keyset(postureOrder, false, { ...query, as_of: asOf })
      const actions = query.action?.split(',')
      const rows = await queryRows<PostureRow>(db, sql`
        SELECT c.id AS company_id, c.name AS company_name, p.*
        FROM ${companies} c
        CROSS JOIN LATERAL (${latestPerKey(sql`${events}`, [...eventConditions(query), lte(events.date, asOf)])}) p
        WHERE ${and(...companyConditions(query, keyset), actions ? sql`p.action IN ${actions}` : undefined, keyset.condition())}
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
      type Side = 'before_action' | 'before_date' | 'before_date_precision' | 'before_event_id' |
        'after_action' | 'after_date' | 'after_date_precision' | 'after_event_id'
      type ChangeRow = Pick<PostureRow, 'company_id' | 'company_name' | 'region' | 'service'> & Record<Side, string | null>
      // Only a key with an event in (from, to] can have changed; its postures on both dates come from the posture index.
      const postureOn = (date: string) => sql`
        SELECT action, date::text AS date, date_precision, id AS event_id FROM ${events}
        WHERE ${events.companyId} = c.id AND ${events.region} = k.region AND ${events.service} = k.service
          AND ${events.deletedAt} IS NULL AND ${events.date} <= ${date}
        ORDER BY ${events.date} DESC, ${events.createdAt} DESC, ${events.id} DESC LIMIT 1`
      const rows = await queryRows<ChangeRow>(db, sql`
        SELECT c.id AS company_id, c.name AS company_name, p.*
        FROM ${companies} c
        CROSS JOIN LATERAL (
          SELECT k.region, k.service,
            b.action AS before_action, b.date AS before_date, b.date_precision AS before_date_precision, b.event_id AS before_event_id,
            a.action AS after_action, a.date AS after_date, a.date_precision AS after_date_precision, a.event_id AS after_event_id
          FROM (SELECT DISTINCT ${events.region} AS region, ${events.service} AS service FROM ${events}
            WHERE ${and(...eventConditions(query), sql`${events.date} > ${query.from}`, lte(events.date, query.to))}) k
          LEFT JOIN LATERAL (${postureOn(query.from)}) b ON true
          LEFT JOIN LATERAL (${postureOn(query.to)}) a ON true
          WHERE b.action IS DISTINCT FROM a.action
        ) p
        WHERE ${and(...companyConditions(query, keyset), keyset.condition())}
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
