import createError from '@fastify/error'
import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'

const Overloaded = createError('APP_OVERLOADED', 'The server is overloaded; retry after Retry-After seconds', 503)
// How often under-pressure samples the event loop (its default).
const SAMPLE_INTERVAL_MS = 1000

export interface OverloadOptions {
  /** Mean event-loop delay, over a second, above which requests are shed; 0 turns the check off. */
  maxEventLoopDelayMs: number
  /** Share of a second the event loop was busy above which requests are shed; 0 turns the check off. */
  maxEventLoopUtilization: number
}

/**
 * Sheds load with a 503 problem and `Retry-After` while the event loop is saturated, so that a flood of requests
 * queues at the clients instead of in this process. Liveness and readiness are exempt: an overloaded process is
 * alive, and an orchestrator that restarted it would only move the flood elsewhere.
 */
export default fp<OverloadOptions>(async (app, options) => {
  // The samples taken until one whole interval after start-up measure the start-up itself (compiling the routes
  // blocks the loop for a second or more), not load: shedding on them turned away a new process's first requests.
  let measuredFrom = Infinity
  app.addHook('onReady', async () => { measuredFrom = Date.now() + 2 * SAMPLE_INTERVAL_MS })
  await app.register(underPressure, {
    sampleInterval: SAMPLE_INTERVAL_MS,
    pressureHandler: async () => {
      if (Date.now() >= measuredFrom) throw new Overloaded()
    },
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxEventLoopUtilization: options.maxEventLoopUtilization,
    // Utilisation over the last sample, not since start-up, which would keep shedding long after a busy spell.
    eventLoopUtilizationMode: 'interval'
  })
}, { name: 'overload', dependencies: ['errors'] })

/** Route config that keeps a route answering under load (liveness, readiness). */
export const servedUnderPressure = { pressureHandler: () => {} }
