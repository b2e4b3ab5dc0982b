import { and, asc, sql } from 'drizzle-orm'
import type { Db, Executor } from '../db/client.js'
import { revisions } from '../db/schema.js'
import { currentEventShape } from '../domain/snapshots.js'
import { toRfc3339 } from '../domain/time.js'
import { decodeFeedCursor, encodeFeedCursor, FEED_START, type FeedPosition } from '../domain/feed-cursor.js'
import { InvalidCursor } from '../errors.js'
import type { Change, ChangeList, ChangeType } from '../schemas/changes.js'

type RevisionRow = Pick<typeof revisions.$inferSelect, 'id' | 'resourceType' | 'resourceId' | 'operation' | 'version' | 'data' | 'occurredAt' | 'txid'>

export type { RevisionRow }

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
 * The oldest transaction id that may still commit a change of this database: the statement's snapshot's oldest
 * in-progress transaction, leaving out those that pg_stat_activity places in another database (they never write
 * our history, and would hold the feed back for as long as they run), or the first id not yet given out.
 * A transaction of ours that ended between the snapshot and that read is not shown by pg_stat_activity, so it
 * stays in, which errs on the side of waiting.
 */
const settledHorizon = sql`SELECT least(pg_snapshot_xmax(s.snap), (
    SELECT min(x) FROM pg_snapshot_xip(s.snap) AS x
    WHERE x::text::numeric % 4294967296 NOT IN (
      SELECT backend_xid::text::numeric FROM pg_stat_activity WHERE datname <> current_database() AND backend_xid IS NOT NULL)))
  FROM (SELECT pg_current_snapshot() AS snap) AS s`

/** The columns of a revision that a change is made from. */
export const revisionRowColumns = {
  id: revisions.id,
  resourceType: revisions.resourceType,
  resourceId: revisions.resourceId,
  operation: revisions.operation,
  version: revisions.version,
  data: revisions.data,
  occurredAt: revisions.occurredAt,
  txid: revisions.txid
}

/**
 * The change feed, read from the revisions that every write records in its own transaction.
 *
 * Transactions commit in another order than the one in which they took their ids, so the feed only shows
 * changes of transactions older than every transaction of this database still open (the settled horizon):
 * everything before that point is settled, and a change that commits later always sorts after it. A cursor therefore never
 * skips a change. Changes to one resource keep their commit order, because every write locks or inserts
 * its resource before it writes anything else, which is when Postgres gives the transaction its id.
 */
export function createChangeService ({ db }: { db: Db }) {
  async function read (after: FeedPosition, limit: number, ex: Executor = db): Promise<{ rows: RevisionRow[], last: FeedPosition }> {
    const rows = await ex.select(revisionRowColumns).from(revisions)
      .where(and(
        sql`(${revisions.txid}, ${revisions.id}) > (${after.txid}::xid8, ${after.id}::uuid)`,
        sql`${revisions.txid} < (${settledHorizon})`
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

    /** The raw rows after a position, for the webhook dispatcher (in its transaction, given as `ex`). */
    read
  }
}
export type ChangeService = ReturnType<typeof createChangeService>
