import type { FastifyBaseLogger } from 'fastify'
import type PgBoss from 'pg-boss'
import { WEBHOOK_DELIVERY_QUEUE } from '../db/job-queue.js'
import type { Cidr } from '../domain/addresses.js'
import { signWebhook } from '../domain/webhook-signature.js'
import type { WebhookDispatchService } from '../services/webhook-dispatch.js'
import type { DeliveryJob } from './queue.js'
import { postWebhook } from './send.js'
import { refusedTarget } from './target.js'

const DELIVERY_BATCH = 20

export interface WorkerOptions {
  boss: PgBoss
  dispatch: WebhookDispatchService
  /** Serializes a change exactly as the change feed does. */
  serializeChange: (change: unknown) => string
  log: FastifyBaseLogger
  allowedCidrs: Cidr[]
  timeoutMs: number
  pollIntervalMs: number
}

/**
 * Runs webhooks on this instance: a dispatcher loop that turns new changes into delivery jobs, and a pg-boss
 * worker that sends them. Every instance may run both; the dispatch cursor's lock and pg-boss's
 * SKIP LOCKED fetch share the work out. Returns the function that stops both.
 */
export async function startWebhookWorker (options: WorkerOptions): Promise<() => Promise<void>> {
  const { boss, dispatch, log } = options
  boss.on('error', (err) => log.warn({ err }, 'webhook job queue error'))
  await boss.start()

  async function deliver (job: PgBoss.JobWithMetadata<DeliveryJob>): Promise<void> {
    const target = await dispatch.target(job.data.delivery_id)
    // A delivery replayed twice, or already settled by a duplicate job, needs nothing more.
    if (!target || target.status !== 'pending') return
    if (target.subscriptionDeleted) return dispatch.abandon(target.id, 'the subscription was deleted')
    const final = job.retryCount >= job.retryLimit
    // The address is checked again at each attempt, and at connection time, in case DNS now answers otherwise.
    const refused = await refusedTarget(target.url, options.allowedCidrs)
    const body = options.serializeChange(target.change)
    const result = refused
      ? { error: `refused: ${refused}` }
      : await postWebhook(target.url, body, {
        'content-type': 'application/json',
        'user-agent': 'market-exits-webhooks/1',
        'webhook-id': target.id,
        'webhook-signature': signWebhook(target.secret, body, Date.now() / 1000)
      }, { timeoutMs: options.timeoutMs, allowed: options.allowedCidrs })
    await dispatch.recordAttempt(target.id, { responseStatus: result.status, error: result.error, final })
    const ok = result.status !== undefined && result.status >= 200 && result.status < 300
    // A failure hands the job back to pg-boss, which retries it with exponential backoff.
    if (!ok && !final) throw new Error(result.error ?? `the receiver answered ${result.status}`)
  }

  // A pg-boss worker takes one batch per polling interval. The jobs of a batch are sent in parallel, and each
  // failed one is handed back on its own; pg-boss then completes the rest when the handler returns.
  await boss.work<DeliveryJob>(WEBHOOK_DELIVERY_QUEUE, {
    pollingIntervalSeconds: Math.max(0.5, options.pollIntervalMs / 1000),
    batchSize: DELIVERY_BATCH,
    includeMetadata: true
  }, async (jobs) => {
    const outcomes = await Promise.allSettled(jobs.map(deliver))
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'rejected') {
        const reason = outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason)
        await boss.fail(WEBHOOK_DELIVERY_QUEUE, jobs[i]!.id, { message: reason })
      }
    }
  })

  const state = { stopping: false }
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> = Promise.resolve()
  const tick = async () => {
    try {
      // Read on while full batches come back, so that a backlog drains without waiting for the timer.
      for (let read = 1; read > 0 && !state.stopping;) read = await dispatch.dispatch()
    } catch (err) {
      log.warn({ err }, 'dispatching webhook deliveries failed; will retry')
    }
    if (!state.stopping) timer = setTimeout(() => { running = tick() }, options.pollIntervalMs)
  }
  running = tick()

  return async () => {
    state.stopping = true
    clearTimeout(timer)
    await running
    // Waits for attempts in flight (each ends within its timeout); pg-boss puts back any that do not.
    await boss.stop({ graceful: true, wait: true, timeout: options.timeoutMs + 1000 })
  }
}
