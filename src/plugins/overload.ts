import underPressure from '@fastify/under-pressure'
import fp from 'fastify-plugin'

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
  await app.register(underPressure, {
    maxEventLoopDelay: options.maxEventLoopDelayMs,
    maxEventLoopUtilization: options.maxEventLoopUtilization,
    // Utilisation over the last sample, not since start-up, which would keep shedding long after a busy spell.
    eventLoopUtilizationMode: 'interval'
  })
}, { name: 'overload', dependencies: ['errors'] })

/** Route config that keeps a route answering under load (liveness, readiness). */
export const servedUnderPressure = { pressureHandler: () => {} }
