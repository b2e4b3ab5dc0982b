import type { FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible'
import { RateLimited } from '../errors.js'
import { isRateLimited } from '../schemas/headers.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The Redis client of REDIS_URL, for readiness; null without one. */
    redis: Redis | null
  }
}

export interface RateLimitOptions {
  /** Requests per window for each API key, and for each client IP without a key; 0 turns that limit off. */
  perKey: number
  perIp: number
  windowSeconds: number
  /** Shares the counters between instances; without it each instance counts in memory. */
  redisUrl?: string | undefined
  redisKeyPrefix: string
}

interface Counted { limiter: RateLimiterAbstract, key: string }

const WARN_EVERY_MS = 10_000

function setHeaders (reply: FastifyReply, limiter: RateLimiterAbstract, res: RateLimiterRes): number {
  const reset = Math.max(0, Math.ceil(res.msBeforeNext / 1000))
  reply.header('ratelimit-limit', limiter.points)
  reply.header('ratelimit-remaining', res.remainingPoints)
  reply.header('ratelimit-reset', reset)
  return reset
}

/**
 * Rate limits for the /v1 API: per API key when the request carries one, per client IP otherwise.
 * Its hook runs after auth's, so that a key is known; registered before any route, so that none escapes it.
 * When Redis fails, requests are served unlimited (fail open) and a warning is logged.
 */
export default fp<RateLimitOptions>(async (app, opts) => {
  let lastWarning = 0
  const warn = (err: unknown) => {
    if (Date.now() - lastWarning < WARN_EVERY_MS) return
    lastWarning = Date.now()
    app.log.warn({ err }, 'rate limits are not enforced: Redis is unreachable')
  }

  const redis = opts.redisUrl === undefined
    ? undefined
    // Without an offline queue and with a command timeout, a Redis outage fails a request's count fast instead of holding it.
    : new Redis(opts.redisUrl, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500, connectTimeout: 2000 })
  if (redis) {
    redis.on('error', warn)
    await redis.connect().catch(warn)
    app.addHook('onClose', async () => { redis.disconnect() })
  }
  app.decorate('redis', redis ?? null)

  const limiter = (points: number, name: string) => {
    if (points === 0) return undefined
    const options = { points, duration: opts.windowSeconds, keyPrefix: `${opts.redisKeyPrefix}rate-limit:${name}` }
    return redis ? new RateLimiterRedis({ ...options, storeClient: redis }) : new RateLimiterMemory(options)
  }
  const byKey = limiter(opts.perKey, 'key')
  const byIp = limiter(opts.perIp, 'ip')

  // What each request consumed, so that a 304 can give its point back; null when nothing was counted.
  const counted = new WeakMap<FastifyRequest, Counted | null>()

  /** Consumes a point; over the limit, throws a 429 when `enforce`, else only reports it in the headers. */
  async function count (req: FastifyRequest, reply: FastifyReply, enforce: boolean) {
    const [limiter, key] = req.apiKey ? [byKey, req.apiKey.id] : [byIp, req.ip]
    counted.set(req, null)
    if (!limiter) return
    let res: RateLimiterRes
    try {
      res = await limiter.consume(key)
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) return warn(err)
      const reset = setHeaders(reply, limiter, err)
      if (!enforce) return
      reply.header('retry-after', Math.max(1, reset))
      throw new RateLimited(limiter.points, limiter.duration, Math.max(1, reset))
    }
    counted.set(req, { limiter, key })
    setHeaders(reply, limiter, res)
  }

  app.addHook('onRequest', async (req, reply) => {
    if (isRateLimited(req.routeOptions.url)) await count(req, reply, true)
  })

  // A request that auth refused (401, 403) never reached the hook above: it counts against its IP, so that
  // guessing keys is limited too, but keeps its own status.
  app.addHook('onError', async (req, reply) => {
    if (!counted.has(req) && isRateLimited(req.routeOptions.url)) await count(req, reply, false)
  })

  // A 304 cost the client nothing to receive, so it costs no point.
  app.addHook('onSend', async (req, reply, payload) => {
    const spent = counted.get(req)
    if (reply.statusCode !== 304 || !spent) return payload
    try {
      setHeaders(reply, spent.limiter, await spent.limiter.reward(spent.key))
    } catch (err) {
      warn(err)
    }
    return payload
  })
}, { name: 'rate-limit', dependencies: ['auth'] })
