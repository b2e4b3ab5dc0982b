import { randomBytes } from 'node:crypto'
import { and, eq, isNull, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import type { Db } from '../db/client.js'
import { revisions, webhookDeliveries, webhookSubscriptions } from '../db/schema.js'
import type { Cidr } from '../domain/addresses.js'
import { toRfc3339 } from '../domain/time.js'
import { WebhookDeliveryNotFound, WebhookNotFound, WebhookTargetRefused } from '../errors.js'
import type { ChangeType } from '../schemas/changes.js'
import type {
  Webhook, WebhookCreate, WebhookCreated, WebhookDelivery, WebhookDeliveryList, WebhookDeliveryListQuery,
  WebhookFilters, WebhookList, WebhookListQuery
} from '../schemas/webhooks.js'
import { refusedTarget } from '../webhooks/target.js'
import type { DeliveryQueue } from '../webhooks/queue.js'
import { Keyset } from './keyset.js'

const SECRET_PREFIX = 'whsec_'
const orNull = (timestamp: string | null) => timestamp === null ? null : toRfc3339(timestamp)

type SubscriptionRow = typeof webhookSubscriptions.$inferSelect
const toWebhook = (r: SubscriptionRow): Webhook => ({
  id: r.id,
  url: r.url,
  filters: r.filters as WebhookFilters,
  created_at: toRfc3339(r.createdAt)
})

const deliveryColumns = {
  id: webhookDeliveries.id,
  subscriptionId: webhookDeliveries.subscriptionId,
  revisionId: webhookDeliveries.revisionId,
  changeType: sql<string>`${revisions.resourceType} || '.' || ${revisions.operation}`,
  status: webhookDeliveries.status,
  attempts: webhookDeliveries.attempts,
  lastAttemptAt: webhookDeliveries.lastAttemptAt,
  lastResponseStatus: webhookDeliveries.lastResponseStatus,
  lastError: webhookDeliveries.lastError,
  createdAt: webhookDeliveries.createdAt,
  deliveredAt: webhookDeliveries.deliveredAt
}
interface DeliveryRow {
  id: string,
  subscriptionId: string,
  revisionId: string,
  changeType: string,
  status: WebhookDelivery['status'],
  attempts: number,
  lastAttemptAt: string | null,
  lastResponseStatus: number | null,
  lastError: string | null,
  createdAt: string,
  deliveredAt: string | null
}
const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  subscription_id: r.subscriptionId,
  change_id: r.revisionId,
  change_type: r.changeType as ChangeType,
  status: r.status,
  attempts: r.attempts,
  last_attempt_at: orNull(r.lastAttemptAt),
  last_response_status: r.lastResponseStatus,
  last_error: r.lastError,
  created_at: toRfc3339(r.createdAt),
  delivered_at: orNull(r.deliveredAt)
})

/** Filters as stored: empty lists left out, region codes upper-cased. */
function normaliseFilters (filters: WebhookFilters = {}): WebhookFilters {
  return {
    ...(filters.company_id ? { company_id: filters.company_id.map((id) => id.toLowerCase()) } : {}),
    ...(filters.region ? { region: [...new Set(filters.region.map((r) => r.toUpperCase()))] } : {}),
    ...(filters.action ? { action: filters.action } : {})
  }
}

export interface WebhookServiceOptions {
  db: Db
  queue: DeliveryQueue
  /** Ranges that targets may be in although they are not public. */
  allowedCidrs: Cidr[]
}

/** Webhook subscriptions and their delivery log. Dispatching and delivering are in webhook-dispatch.ts. */
export function createWebhookService ({ db, queue, allowedCidrs }: WebhookServiceOptions) {
  async function getRow (id: string): Promise<SubscriptionRow> {
    const [row] = await db.select().from(webhookSubscriptions)
      .where(and(eq(webhookSubscriptions.id, id), isNull(webhookSubscriptions.deletedAt)))
    if (!row) throw new WebhookNotFound(id)
    return row
  }

  return {
    /** Subscribes a URL, once its host is known to be a public address; the secret is generated when not given. */
    async create (input: WebhookCreate, apiKeyId: string | null): Promise<WebhookCreated> {
      const refused = await refusedTarget(input.url, allowedCidrs)
      if (refused) throw new WebhookTargetRefused(refused)
      const secret = input.secret ?? SECRET_PREFIX + randomBytes(32).toString('base64url')
      const [row] = await db.insert(webhookSubscriptions)
        .values({ id: uuidv7(), url: input.url, secret, filters: normaliseFilters(input.filters), apiKeyId }).returning()
      return { ...toWebhook(row!), secret }
    },

    /** A keyset page of live subscriptions in creation order (ids are UUIDv7). */
    async list (query: WebhookListQuery): Promise<WebhookList> {
      const limit = query.limit ?? 50
      const keyset = new Keyset([{ expression: webhookSubscriptions.id, kind: 'uuid' }], false, query)
      const rows = await db.select().from(webhookSubscriptions)
        .where(and(isNull(webhookSubscriptions.deletedAt), keyset.condition()))
        .orderBy(...keyset.orderBy()).limit(limit + 1)
      const page = keyset.page(rows, limit, (r) => [r.id])
      return { data: page.rows.map(toWebhook), next_cursor: page.nextCursor }
    },

    async get (id: string): Promise<Webhook> {
      return toWebhook(await getRow(id))
    },

    /** Soft-deletes a subscription; its pending deliveries are marked failed, and no new ones are made. */
    async remove (id: string): Promise<void> {
      await db.transaction(async (tx) => {
        const rows = await tx.update(webhookSubscriptions).set({ deletedAt: sql`now()` })
          .where(and(eq(webhookSubscriptions.id, id), isNull(webhookSubscriptions.deletedAt))).returning({ id: webhookSubscriptions.id })
        if (rows.length === 0) throw new WebhookNotFound(id)
        await tx.update(webhookDeliveries).set({ status: 'failed', lastError: 'the subscription was deleted' })
          .where(and(eq(webhookDeliveries.subscriptionId, id), eq(webhookDeliveries.status, 'pending')))
      })
    },

    /** The delivery log of a subscription, oldest first, optionally in one status. */
    async listDeliveries (id: string, query: WebhookDeliveryListQuery): Promise<WebhookDeliveryList> {
      await getRow(id)
      const limit = query.limit ?? 50
      const keyset = new Keyset([{ expression: webhookDeliveries.id, kind: 'uuid' }], false, query)
      const rows = await db.select(deliveryColumns).from(webhookDeliveries)
        .innerJoin(revisions, eq(revisions.id, webhookDeliveries.revisionId))
        .where(and(
          eq(webhookDeliveries.subscriptionId, id),
          query.status === undefined ? undefined : eq(webhookDeliveries.status, query.status),
          keyset.condition()))
        .orderBy(...keyset.orderBy()).limit(limit + 1)
      const page = keyset.page(rows as DeliveryRow[], limit, (r) => [r.id])
      return { data: page.rows.map(toDelivery), next_cursor: page.nextCursor }
    },

    /** Sends a delivery again, whatever its status: it becomes pending and gets a new series of attempts. */
    async replay (id: string, deliveryId: string): Promise<WebhookDelivery> {
      await getRow(id)
      return db.transaction(async (tx) => {
        const updated = await tx.update(webhookDeliveries).set({ status: 'pending', deliveredAt: null })
          .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.subscriptionId, id))).returning({ id: webhookDeliveries.id })
        if (updated.length === 0) throw new WebhookDeliveryNotFound(deliveryId, id)
        await queue.enqueue([deliveryId], tx)
        const [row] = await tx.select(deliveryColumns).from(webhookDeliveries)
          .innerJoin(revisions, eq(revisions.id, webhookDeliveries.revisionId)).where(eq(webhookDeliveries.id, deliveryId))
        return toDelivery(row as DeliveryRow)
      })
    }
  }
}
export type WebhookService = ReturnType<typeof createWebhookService>
