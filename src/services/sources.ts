import { and, asc, desc, eq, inArray, isNull, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { toRfc3339 } from '../domain/time.js'
import { normaliseSourceUrl } from '../domain/urls.js'
import type { SourceList, SourceListQuery, SourceRecord } from '../schemas/sources.js'
import { Keyset } from './keyset.js'

const SUPPORTED_EVENTS_SHOWN = 100

export function createSourceService ({ db }: { db: Db }) {
  /** The live events citing each source, newest first, capped per source, with the full count. */
  async function supportedEvents (sourceIds: string[]) {
    const rows = sourceIds.length === 0
      ? []
      : await db.select({
        sourceId: eventSources.sourceId,
        id: events.id,
        companyId: events.companyId,
        companyName: companies.name,
        region: events.region,
        service: events.service,
        action: events.action,
        date: events.date,
        quote: eventSources.quote,
        rank: sql<number>`row_number() OVER (PARTITION BY ${eventSources.sourceId} ORDER BY ${events.date} DESC, ${events.id} DESC)`.mapWith(Number),
        total: sql<number>`count(*) OVER (PARTITION BY ${eventSources.sourceId})`.mapWith(Number)
      }).from(eventSources)
        .innerJoin(events, and(eq(events.id, eventSources.eventId), isNull(events.deletedAt)))
        .innerJoin(companies, eq(companies.id, events.companyId))
        .where(inArray(eventSources.sourceId, sourceIds))
        .orderBy(asc(eventSources.sourceId), desc(events.date), desc(events.id))
    const bySource = new Map<string, { total: number, events: SourceRecord['events'] }>(sourceIds.map((id) => [id, { total: 0, events: [] }]))
    for (const r of rows) {
      const entry = bySource.get(r.sourceId)!
      entry.total = r.total
      if (r.rank > SUPPORTED_EVENTS_SHOWN) continue
      entry.events.push({
        id: r.id, company: { id: r.companyId, name: r.companyName }, region: r.region, service: r.service, action: r.action, date: r.date, quote: r.quote
      })
    }
    return bySource
  }

  return {
    /** Stored sources, or the one stored under a URL, each with the live events that cite it. */
    async list (query: SourceListQuery): Promise<SourceList> {
      const limit = query.limit ?? 50
      const keyset = new Keyset([{ expression: sources.id, kind: 'uuid' }], false, { ...query })
      const rows = await db.select().from(sources)
        .where(and(query.url === undefined ? undefined : eq(sources.url, normaliseSourceUrl(query.url)), keyset.condition()))
        .orderBy(...keyset.orderBy()).limit(limit + 1)
      const page = keyset.page(rows, limit, (r) => [r.id])
      const supported = await supportedEvents(page.rows.map((r) => r.id))
      return {
        data: page.rows.map((r) => ({
          id: r.id,
          url: r.url,
          publisher: r.publisher,
          title: r.title,
          published_date: r.publishedDate,
          language: r.language,
          kind: r.kind,
          archived_url: r.archivedUrl,
          license: r.license,
          created_at: toRfc3339(r.createdAt),
          updated_at: toRfc3339(r.updatedAt),
          event_count: supported.get(r.id)!.total,
          events: supported.get(r.id)!.events
        })),
        next_cursor: page.nextCursor
      }
    }
  }
}
export type SourceService = ReturnType<typeof createSourceService>
