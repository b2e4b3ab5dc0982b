import fp from 'fastify-plugin'
import { createJobQueue } from '../db/job-queue.js'
import type { Cidr } from '../domain/addresses.js'
import { startWebhookWorker } from '../webhooks/worker.js'

export interface WebhooksPluginOptions {
  allowedCidrs: Cidr[]
  timeoutMs: number
  pollIntervalMs: number
}

/**
 * Dispatches and delivers webhooks on this instance (WEBHOOKS_ENABLED): started once the app is ready, stopped
 * before the database closes. Subscriptions are managed through the routes whether or not it runs.
 */
export default fp<WebhooksPluginOptions>(async (app, options) => {
  let stop: (() => Promise<void>) | undefined
  app.addHook('onReady', async () => {
    stop = await startWebhookWorker({
      boss: createJobQueue(app.database, { supervise: true }),
      dispatch: app.services.webhookDispatch,
      serializeChange: (change) => JSON.stringify(change),
      log: app.log.child({ component: 'webhooks' }),
      ...options
    })
  })
  // preClose runs before the onClose hook that closes the database, which the worker needs until it stops.
  app.addHook('preClose', async () => { await stop?.() })
}, { name: 'webhooks', dependencies: ['services'] })
