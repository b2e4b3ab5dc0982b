import { createHash, timingSafeEqual } from 'node:crypto'
import { DrizzleQueryError } from 'drizzle-orm'
import type { FastifyError } from 'fastify'
import fp from 'fastify-plugin'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import { isDatabaseUnavailable, isTransactionConflict, pgErrorCode } from '../db/errors.js'
import { WEBHOOK_DELIVERY_QUEUE } from '../db/job-queue.js'
import { Unauthorized } from '../errors.js'

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics
  }
}

export interface Metrics {
  /** False without METRICS_TOKEN: nothing is measured, and /metrics answers 404. */
  enabled: boolean
  /** Throws a 401 unless the Authorization header carries the metrics token. */
  authorize: (header: string | undefined) => void
  /** Every metric of this app, in the Prometheus text format. */
  render: () => Promise<{ contentType: string, body: string }>
}

export interface MetricsOptions {
  token?: string | undefined
}

/** The route label of requests that matched no route, so that scanned URLs cannot grow the label set. */
export const UNMATCHED_ROUTE = 'unmatched'
const METRICS_ROUTE = '/metrics'
const BEARER = /^Bearer +(\S+)$/i
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

const digest = (value: string) => createHash('sha256').update(value).digest()

/** An error that a database query raised, through drizzle's wrapper or straight from a driver. */
function isDatabaseError (err: unknown): boolean {
  if (pgErrorCode(err) !== undefined) return true
  let current = err as { cause?: unknown } | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (current instanceof DrizzleQueryError) return true
    current = current.cause as { cause?: unknown } | undefined
  }
  return false
}

/**
 * Prometheus metrics of this app instance, in a registry of its own (tests build many apps in one process):
 * requests and their latency per route pattern, method and status class; the PostgreSQL pool; database errors
 * that failed a request; the depth of the webhook delivery queue; and prom-client's process metrics, event-loop
 * delay among them. Off, at no cost, without a token. The route is in routes/meta, after swagger, to be documented.
 */
export default fp<MetricsOptions>(async (app, { token }) => {
  if (token === undefined) {
    app.decorate('metrics', {
      enabled: false,
      authorize: () => { throw new Unauthorized('Metrics are off') },
      render: async () => { throw new Error('metrics are off') }
    })
    return
  }

  const registry = new Registry()
  const registers = [registry]
  collectDefaultMetrics({ register: registry })

  const labelNames = ['method', 'route', 'status_class'] as const
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route pattern, method and status class.', labelNames, registers })
  const durations = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to finishing its response, by route pattern, method and status class.',
    labelNames,
    buckets: DURATION_BUCKETS,
    registers
  })
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE
    // Scrapes would otherwise be most of what is counted.
    if (route === METRICS_ROUTE) return
    const labels = { method: req.method, route, status_class: `${Math.floor(reply.statusCode / 100)}xx` }
    requests.inc(labels)
    durations.observe(labels, reply.elapsedTime / 1000)
  })

  const queryErrors = new Counter({
    name: 'db_query_errors_total',
    help: 'Database errors that failed a request: `unavailable` (connection, timeout: a 503), `conflict` (a write that kept conflicting with concurrent ones after its retries: a 503) or `failed` (any other: a 500).',
    labelNames: ['reason'] as const,
    registers
  })
  for (const reason of ['unavailable', 'conflict', 'failed']) queryErrors.inc({ reason }, 0)
  app.addHook('onError', async (_req, _reply, err: FastifyError) => {
    if (isDatabaseUnavailable(err)) queryErrors.inc({ reason: 'unavailable' })
    else if (isTransactionConflict(err)) queryErrors.inc({ reason: 'conflict' })
    // A database error that a service turned into a client error (a conflict, say) is an answer, not a failure.
    else if ((err.statusCode ?? 500) >= 500 && isDatabaseError(err)) queryErrors.inc({ reason: 'failed' })
  })

  // PGlite is one in-process connection, not a pool: there is nothing to count there.
  const pool = app.database.pool
  if (pool) {
    const labels = { pool: 'primary' }
    new Gauge({ // eslint-disable-line no-new
      name: 'db_pool_connections',
      help: 'Connections of the PostgreSQL pool, `in_use` (checked out) or `idle`.',
      labelNames: ['pool', 'state'] as const,
      registers,
      collect () {
        this.set({ ...labels, state: 'in_use' }, pool.totalCount - pool.idleCount)
        this.set({ ...labels, state: 'idle' }, pool.idleCount)
      }
    })
    new Gauge({ // eslint-disable-line no-new
      name: 'db_pool_waiting_requests',
      help: 'Queries waiting for a connection of the PostgreSQL pool.',
      labelNames: ['pool'] as const,
      registers,
      collect () { this.set(labels, pool.waitingCount) }
    })
    new Gauge({ // eslint-disable-line no-new
      name: 'db_pool_max_connections',
      help: 'Most connections the PostgreSQL pool opens (DB_POOL_MAX).',
      labelNames: ['pool'] as const,
      registers,
      collect () { this.set(labels, pool.options.max ?? 10) }
    })
  }

  new Gauge({ // eslint-disable-line no-new
    name: 'job_queue_depth',
    help: 'Jobs waiting in a pg-boss queue (created or due for a retry). The queue is shared: every instance reports the same depth.',
    labelNames: ['queue'] as const,
    registers,
    async collect () {
      // A database that does not answer leaves the gauge without a sample rather than failing the whole scrape.
      this.reset()
      try {
        this.set({ queue: WEBHOOK_DELIVERY_QUEUE }, await app.services.health.queueDepth())
      } catch (err) {
        app.log.warn({ err }, 'metrics: the job queue depth could not be read')
      }
    }
  })

  const expected = digest(token)
  app.decorate('metrics', {
    enabled: true,
    authorize (header) {
      const presented = header === undefined ? undefined : BEARER.exec(header)?.[1]
      // Digests have one length, so that the comparison takes the same time whatever was sent.
      if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
        throw new Unauthorized('Metrics need Authorization: Bearer <METRICS_TOKEN>')
      }
    },
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() })
  })
}, { name: 'metrics', dependencies: ['db', 'services'] })
