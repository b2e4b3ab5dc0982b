import { and, desc, eq, lt, lte } from 'drizzle-orm'
import { createPatch, type Operation } from 'rfc6902'
import { v7 as uuidv7 } from 'uuid'
import type { Db, Executor } from '../db/client.js'
import { apiKeys, revisions } from '../db/schema.js'
import { currentEventShape } from '../domain/snapshots.js'
import { toRfc3339 } from '../domain/time.js'
import { CompanyNotFound, EventNotFound } from '../errors.js'
import type { RevisionList, RevisionListQuery } from '../schemas/revisions.js'
import { Keyset } from './keyset.js'

/** Who made a change (the API key's id, or null for the system: sample data, command line) and why, if they said. */
export interface Actor { apiKeyId: string | null, reason?: string | null }
export const SYSTEM_ACTOR: Actor = { apiKeyId: null }

type Revision = Pick<typeof revisions.$inferInsert, 'resourceType' | 'resourceId' | 'operation' | 'version' | 'data'>

/** Appends the history row of a write; call it inside the write's own transaction. */
export async function recordRevision (ex: Executor, actor: Actor, revision: Revision): Promise<void> {
  await ex.insert(revisions).values({ id: uuidv7(), apiKeyId: actor.apiKeyId, changeReason: actor.reason ?? null, ...revision })
}

const UNTRACKED = new Set(['/updated_at', '/version'])

/** An RFC 6902 patch from one snapshot to the next, without the fields that every change moves. */
export function snapshotDiff (before: object | null, after: object | null): Operation[] {
  if (after === null) return []
  return createPatch(before ?? {}, after).filter((op) => !UNTRACKED.has(op.path))
}

export function createRevisionService ({ db }: { db: Db }) {
  return {
    /** An event or company as recorded at a moment; a 404 when it did not exist then or had been deleted. */
    async recordedState (resourceType: 'event' | 'company', resourceId: string, knownAt: string): Promise<Record<string, unknown>> {
      const [row] = await db.select({ operation: revisions.operation, data: revisions.data }).from(revisions)
        .where(and(eq(revisions.resourceType, resourceType), eq(revisions.resourceId, resourceId), lte(revisions.occurredAt, knownAt)))
        .orderBy(desc(revisions.version)).limit(1)
      if (!row || row.operation === 'deleted') {
        throw resourceType === 'event' ? new EventNotFound(resourceId) : new CompanyNotFound(resourceId)
      }
      const data = row.data as Record<string, unknown>
      return resourceType === 'event' ? currentEventShape(data) : data
    },

    /** The history of one event or company, oldest first; a resource that never existed has none, and is a 404. */
    async list (resourceType: 'event' | 'company', resourceId: string, query: RevisionListQuery): Promise<RevisionList> {
      const limit = query.limit ?? 50
      const keyset = new Keyset([{ expression: revisions.version, kind: 'integer' }], false, { ...query, resourceType, resourceId })
      const columns = {
        id: revisions.id,
        version: revisions.version,
        operation: revisions.operation,
        occurredAt: revisions.occurredAt,
        data: revisions.data,
        reason: revisions.changeReason,
        apiKeyId: revisions.apiKeyId,
        apiKeyName: apiKeys.name
      }
      const ofResource = and(eq(revisions.resourceType, resourceType), eq(revisions.resourceId, resourceId))
      const rows = await db.select(columns).from(revisions).leftJoin(apiKeys, eq(apiKeys.id, revisions.apiKeyId))
        .where(and(ofResource, keyset.condition())).orderBy(...keyset.orderBy()).limit(limit + 1)
      if (rows.length === 0 && keyset.after === undefined) {
        throw resourceType === 'event' ? new EventNotFound(resourceId) : new CompanyNotFound(resourceId)
      }
      const page = keyset.page(rows, limit, (r) => [String(r.version)])
      const first = page.rows[0]
      const [previous] = first === undefined || first.version === 1
        ? []
        : await db.select({ data: revisions.data }).from(revisions)
          .where(and(ofResource, lt(revisions.version, first.version))).orderBy(desc(revisions.version)).limit(1)
      const shape = (data: unknown) => resourceType === 'event' ? currentEventShape(data as Record<string, unknown>) : data as Record<string, unknown>
      // A delete records the state it ended, so a restore diffs against the state before the delete.
      let before: object | null = previous ? shape(previous.data) : null
      const data = page.rows.map((r) => {
        const state = shape(r.data)
        const after = r.operation === 'deleted' ? null : state
        const revision = {
          id: r.id,
          version: r.version,
          operation: r.operation,
          occurred_at: toRfc3339(r.occurredAt),
          actor: r.apiKeyId === null ? null : { api_key_id: r.apiKeyId, api_key_name: r.apiKeyName! },
          reason: r.reason,
          changes: snapshotDiff(before, after),
          data: after
        }
        before = state
        return revision
      })
      return { data: data as RevisionList['data'], next_cursor: page.nextCursor }
    }
  }
}
export type RevisionService = ReturnType<typeof createRevisionService>
