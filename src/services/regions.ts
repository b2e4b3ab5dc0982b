import { asc, count, isNull } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { events } from '../db/schema.js'
import { regionName } from '../domain/regions.js'
import type { RegionList } from '../schemas/regions.js'

export function createRegionService ({ db }: { db: Db }) {
  return {
    /** Every region code that live events use, with its English name and how many events use it. */
    async list (): Promise<RegionList> {
      const rows = await db.select({ code: events.region, eventCount: count() }).from(events)
        .where(isNull(events.deletedAt)).groupBy(events.region).orderBy(asc(events.region))
      return { data: rows.map((r) => ({ code: r.code, name: regionName(r.code) ?? r.code, event_count: r.eventCount })) }
    }
  }
}
export type RegionService = ReturnType<typeof createRegionService>
