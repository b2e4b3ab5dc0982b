import { and, asc, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { revisions } from '../db/schema.js'
import { currentEventShape } from '../domain/snapshots.js'
import { toRfc3339 } from '../domain/time.js'
import { decodeFeedCursor, encodeFeedCursor, FEED_START, type FeedPosition } from '../domain/feed-cursor.js'
import { InvalidCursor } from '../errors.js'
import type { Change, ChangeList, ChangeType } from '../schemas/changes.js'

type RevisionRow = Pick<typeof revisions.$inferSelect, 'id' | 'resourceType' | 'resourceId' | 'operation' | 'version' | 'data' | 'occurredAt' | 'txid'>

export function toChange (row: RevisionRow): Change {
  return {
    id: row.id,
    type: `${row.resourceType}.${row.operation}` as ChangeType,
    resource_id: row.resourceId,
    version: row.version,
    occurred_at: toRfc3339(row.occurredAt),
    data: row.operation === 'deleted'
      ? null
      : (row.resourceType === 'event' ? currentEventShape(row.data as Record<string, unknown>) : row.data) as Change['data']
  }
}

/**
 * The change feed, read from the revisions that every write records in its own transaction.
 *
 * Transactions commit in another order than the one in which they took their ids, so the feed only shows
 * changes of transactions older than every transaction still open (the snapshot's xmin): everything before
 * that point is settled, and a change that commits later always sorts after it. A cursor therefore never
 * skips a change. Changes to one resource keep their commit order, because every write locks or inserts
 * its resource before it writes anything else, which is when Postgres gives the transaction its id.
 */
export function createChangeService ({ db }: { db: Db }) {
  async function read (after: FeedPosition, limit: number): Promise<{ rows: RevisionRow[], last: FeedPosition }> {
    const rows = await db.select({
      id: revisions.id,
      resourceType: revisions.resourceType,
      resourceId: revisions.resourceId,
      operation: revisions.operation,
      version: revisions.version,
      data: revisions.data,
      occurredAt: revisions.occurredAt,
      txid: revisions.txid
    }).from(revisions)
      .where(and(
        sql`(${revisions.txid}, ${revisions.id}) > (${after.txid}::xid8, ${after.id}::uuid)`,
        sql`${revisions.txid} < pg_snapshot_xmin(pg_current_snapshot())`
      ))
      .orderBy(asc(revisions.txid), asc(revisions.id))
      .limit(limit)
    const tail = rows.at(-1)
    return { rows, last: tail ? { txid: tail.txid, id: tail.id } : after }
  }

  return {
    /** Up to `limit` changes after the cursor (from the oldest retained without one), oldest first. */
    async list (query: { after?: string | undefined, limit?: number | undefined }): Promise<ChangeList> {
      const after = query.after === undefined ? FEED_START : decodeFeedCursor(query.after)
      if (!after) throw new InvalidCursor('is not a change feed cursor')
      const { rows, last } = await read(after, query.limit ?? 100)
      return { data: rows.map(toChange), next_cursor: encodeFeedCursor(last) }
    },

    /** The raw rows after a position, for the webhook dispatcher. */
    read
  }
}
export type ChangeService = ReturnType<typeof createChangeService>
