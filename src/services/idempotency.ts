import { and, eq, gt, sql } from 'drizzle-orm'
import type { Db } from '../db/client.js'
import { joinTransaction } from '../db/ambient.js'
import { idempotencyKeys } from '../db/schema.js'
import { IdempotencyKeyReused } from '../errors.js'

/** What a POST answered, kept so that a repeat gets the same answer. */
export interface StoredResponse { status: number, headers: Record<string, string>, body: unknown }
export interface IdempotentRequest { apiKeyId: string, key: string, fingerprint: string }

/** How long a key's response is kept and replayed. */
export const RETENTION = sql`interval '24 hours'`

export function createIdempotencyService ({ db }: { db: Db }) {
  return {
    /**
     * Runs a write once per API key and idempotency key. The write, and the response stored with it, commit in
     * one transaction; a concurrent request with the same key waits for it on an advisory lock (which, unlike a
     * row, takes no transaction id, so the write's own first lock still orders the change feed), then replays it.
     * A write that fails stores nothing, so that it can be retried.
     */
    async execute (request: IdempotentRequest, write: () => Promise<StoredResponse>): Promise<StoredResponse & { replayed: boolean }> {
      return db.transaction(async (tx) => {
        await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`idempotency:${request.apiKeyId}:${request.key}`}, 0))`)
        const [stored] = await tx.select().from(idempotencyKeys).where(and(
          eq(idempotencyKeys.apiKeyId, request.apiKeyId),
          eq(idempotencyKeys.key, request.key),
          gt(idempotencyKeys.createdAt, sql`now() - ${RETENTION}`)
        ))
        if (stored) {
          if (stored.fingerprint !== request.fingerprint) throw new IdempotencyKeyReused()
          return { status: stored.responseStatus!, headers: stored.responseHeaders as Record<string, string>, body: stored.responseBody, replayed: true }
        }
        const response = await joinTransaction(tx, write)
        const row = {
          fingerprint: request.fingerprint,
          responseStatus: response.status,
          responseHeaders: response.headers,
          responseBody: response.body,
          createdAt: sql`now()`
        }
        // An expired row of the same key is replaced.
        await tx.insert(idempotencyKeys).values({ apiKeyId: request.apiKeyId, key: request.key, ...row })
          .onConflictDoUpdate({ target: [idempotencyKeys.apiKeyId, idempotencyKeys.key], set: row })
        return { ...response, replayed: false }
      })
    },

    /** Deletes the responses that are no longer replayed; returns how many. */
    async purgeExpired (): Promise<number> {
      const rows = await db.delete(idempotencyKeys).where(sql`${idempotencyKeys.createdAt} <= now() - ${RETENTION}`).returning({ key: idempotencyKeys.key })
      return rows.length
    }
  }
}
export type IdempotencyService = ReturnType<typeof createIdempotencyService>
