import { and, eq, isNull, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import type { Db } from '../db/client.js'
import { revisions, webhookDeliveries, webhookDispatchCursor, webhookSubscriptions } from '../db/schema.js'
import { toRfc3339 } from '../domain/time.js'
import { matchesFilters, subjectOf, type WebhookFilters } from '../domain/webhook-filters.js'
import type { Change } from '../schemas/changes.js'
import type { DeliveryQueue } from '../webhooks/queue.js'
import { revisionRowColumns, toChange, type ChangeService } from './changes.js'

/** What one attempt needs: where to send, the secret to sign with, and the change. */
export interface DeliveryTarget {
  id: string
  status: 'pending' | 'succeeded' | 'failed'
  url: string
  secret: string
  subscriptionDeleted: boolean
  change: Change
}

export interface AttemptOutcome {
  responseStatus?: number | undefined
  error?: string | undefined
  /** True when no further attempt will follow a failure. */
  final: boolean
}

/**
 * Turns the change feed into deliveries (one per change and matching subscription) and records their attempts.
 */
export function createWebhookDispatchService ({ db, changes, queue }: { db: Db, changes: ChangeService, queue: DeliveryQueue }) {
  return {
    /**
     * Reads up to `limit` settled changes after the dispatch cursor and makes their deliveries, enqueueing a job
     * for each, and advances the cursor: all in one transaction, so that a crash anywhere redoes the whole batch
     * and the unique (subscription, change) pair keeps it from delivering twice. The cursor row is locked with
     * SKIP LOCKED: while one instance dispatches, the others skip their turn instead of waiting.
     * Returns how many changes were read (0: nothing new, or another instance holds the cursor).
     */
    async dispatch (limit = 200): Promise<number> {
      return db.transaction(async (tx) => {
        const [cursor] = await tx.select().from(webhookDispatchCursor).where(eq(webhookDispatchCursor.id, 1))
          .for('update', { skipLocked: true })
        if (!cursor) return 0
        const { rows, last } = await changes.read({ txid: cursor.txid, id: cursor.revisionId }, limit, tx)
        if (rows.length === 0) return 0
        const subscriptions = await tx.select({ id: webhookSubscriptions.id, filters: webhookSubscriptions.filters, createdAt: webhookSubscriptions.createdAt })
          .from(webhookSubscriptions).where(isNull(webhookSubscriptions.deletedAt))
        const deliveries: Array<typeof webhookDeliveries.$inferInsert> = []
        for (const row of rows) {
          const subject = subjectOf(row.resourceType, row.resourceId, row.data)
          for (const subscription of subscriptions) {
            // A subscription receives the changes made after it, not the history before it.
            if (toRfc3339(row.occurredAt) < toRfc3339(subscription.createdAt)) continue
            if (!matchesFilters(subscription.filters as WebhookFilters, subject)) continue
            deliveries.push({ id: uuidv7(), subscriptionId: subscription.id, revisionId: row.id })
          }
        }
        if (deliveries.length > 0) {
          const inserted = await tx.insert(webhookDeliveries).values(deliveries).onConflictDoNothing()
            .returning({ id: webhookDeliveries.id })
          await queue.enqueue(inserted.map((d) => d.id), tx)
        }
        await tx.update(webhookDispatchCursor).set({ txid: last.txid, revisionId: last.id }).where(eq(webhookDispatchCursor.id, 1))
        return rows.length
      })
    },

    /** The delivery, its subscription (deleted or not) and its change, or undefined when the delivery is gone. */
    async target (deliveryId: string): Promise<DeliveryTarget | undefined> {
      const [row] = await db.select({
        id: webhookDeliveries.id,
        status: webhookDeliveries.status,
        url: webhookSubscriptions.url,
        secret: webhookSubscriptions.secret,
        deletedAt: webhookSubscriptions.deletedAt,
        revision: revisionRowColumns
      }).from(webhookDeliveries)
        .innerJoin(webhookSubscriptions, eq(webhookSubscriptions.id, webhookDeliveries.subscriptionId))
        .innerJoin(revisions, eq(revisions.id, webhookDeliveries.revisionId))
        .where(eq(webhookDeliveries.id, deliveryId))
      if (!row) return undefined
      return {
        id: row.id,
        status: row.status,
        url: row.url,
        secret: row.secret,
        subscriptionDeleted: row.deletedAt !== null,
        change: toChange(row.revision)
      }
    },

    /** Records an attempt: a 2xx succeeds the delivery; any other outcome leaves it pending, or failed when `final`. */
    async recordAttempt (deliveryId: string, outcome: AttemptOutcome): Promise<void> {
      const succeeded = outcome.responseStatus !== undefined && outcome.responseStatus >= 200 && outcome.responseStatus < 300
      await db.update(webhookDeliveries).set({
        attempts: sql`${webhookDeliveries.attempts} + 1`,
        lastAttemptAt: sql`clock_timestamp()`,
        lastResponseStatus: outcome.responseStatus ?? null,
        lastError: succeeded ? null : (outcome.error ?? `the receiver answered ${outcome.responseStatus}`),
        status: succeeded ? 'succeeded' : outcome.final ? 'failed' : 'pending',
        deliveredAt: succeeded ? sql`clock_timestamp()` : null
      }).where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'pending')))
    },

    /** Marks a pending delivery failed without an attempt (its subscription is gone). */
    async abandon (deliveryId: string, reason: string): Promise<void> {
      await db.update(webhookDeliveries).set({ status: 'failed', lastError: reason })
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'pending')))
    }
  }
}
export type WebhookDispatchService = ReturnType<typeof createWebhookDispatchService>
