import type PgBoss from 'pg-boss'
import type { Executor } from '../db/client.js'
import { transactionJobQueueDb, WEBHOOK_DELIVERY_QUEUE } from '../db/job-queue.js'

export interface DeliveryJob { delivery_id: string }

export interface RetryPolicy {
  maxAttempts: number
  retryDelaySeconds: number
  /** How long one attempt may hold its job before pg-boss takes it back and retries it. */
  attemptTimeoutMs: number
}

/** Enqueues delivery jobs in the caller's transaction, so that a job exists exactly when its delivery row does. */
export interface DeliveryQueue {
  enqueue: (deliveryIds: string[], ex: Executor) => Promise<void>
}

export function createDeliveryQueue (boss: PgBoss, policy: RetryPolicy): DeliveryQueue {
  return {
    async enqueue (deliveryIds, ex) {
      const db = transactionJobQueueDb(ex)
      for (const id of deliveryIds) {
        await boss.send(WEBHOOK_DELIVERY_QUEUE, { delivery_id: id } satisfies DeliveryJob, {
          db,
          // pg-boss waits retryDelay × 2^n (plus up to as much again, at random) before retry n.
          retryLimit: policy.maxAttempts - 1,
          retryDelay: policy.retryDelaySeconds,
          retryBackoff: true,
          expireInSeconds: Math.ceil(policy.attemptTimeoutMs / 1000) + 60
        })
      }
    }
  }
}
