import { createHash } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { configure } from 'safe-stable-stringify'
import { problems } from '../schemas/common.js'

const IDEMPOTENCY_KEY = 'idempotency-key'
const REPLAYED = 'idempotent-replayed'
// The headers of a response that belong to it; the rest (request id, rate limits) describe the new request.
const KEPT_HEADERS = ['location', 'etag', 'content-location']
const PURGE_EVERY_MS = 60 * 60 * 1000

const IdempotencyKeyHeader = Type.String({
  minLength: 1,
  maxLength: 255,
  pattern: '^[\\x21-\\x7E]+$',
  description: 'A key of your choice (a UUID is best) that makes this POST safe to retry: for 24 hours, a repeat with the ' +
    'same key and the same request gets the first response again, with `Idempotent-Replayed: true`, and changes nothing; ' +
    'the same key with another method, path or body is a 422. Keys are per API key. A request that failed stored nothing ' +
    'and runs again.',
  examples: ['4f1b7c2e-9a0d-4c55-8e1f-3b2a6d9c0e71']
})

// Bounded, so that a body nested thousands of levels deep cannot overflow the stack; no schema accepts one nested this deep.
const stringify = configure({ maximumDepth: 100 })

/** Same method, path and body (keys in any order, any whitespace): the same request. */
function fingerprintOf (req: FastifyRequest): string {
  return createHash('sha256').update(`${req.method} ${req.url}\n${stringify(req.body ?? null)}`).digest('hex')
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** False for a POST whose answer must not be stored (it holds a secret); it then ignores Idempotency-Key. */
    idempotent?: boolean
  }
}

function isWrite (route: RouteOptions): boolean {
  const scope = route.config?.scope
  return route.method === 'POST' && (scope === 'write' || scope === 'admin') && route.config?.idempotent !== false
}

/** Documents the header and the 422, and makes the handler replay a stored response instead of running twice. */
function makeIdempotent (route: RouteOptions) {
  const schema = route.schema ?? {}
  const headers = (schema.headers ?? Type.Object({})) as { properties?: Record<string, unknown>, [k: string]: unknown }
  route.schema = {
    ...schema,
    headers: { ...headers, properties: { ...headers.properties, [IDEMPOTENCY_KEY]: IdempotencyKeyHeader } },
    // A route that has a 422 of its own documents both causes in its description.
    response: { 422: problems[422], ...(schema.response as object) }
  }
  const handler = route.handler
  route.handler = async function (this: unknown, req, reply) {
    const key = req.headers[IDEMPOTENCY_KEY]
    if (typeof key !== 'string' || !req.apiKey) return handler.call(this as never, req, reply)
    const response = await req.server.services.idempotency.execute(
      { apiKeyId: req.apiKey.id, key, fingerprint: fingerprintOf(req) },
      async () => {
        const body = await handler.call(this as never, req, reply)
        const sent = reply.getHeaders()
        const kept = Object.fromEntries(KEPT_HEADERS.filter((h) => sent[h] !== undefined).map((h) => [h, String(sent[h])]))
        return { status: reply.statusCode, headers: kept, body }
      })
    if (response.replayed) reply.code(response.status).headers(response.headers).header(REPLAYED, 'true')
    return response.body
  }
}

/** `Idempotency-Key` on every POST that writes, stored in Postgres for 24 hours. */
export default fp(async (app) => {
  app.addHook('onRoute', (route) => { if (isWrite(route)) makeIdempotent(route) })

  const purge = setInterval(() => {
    app.services.idempotency.purgeExpired().catch((err: unknown) => app.log.warn({ err }, 'purging expired idempotency keys failed'))
  }, PURGE_EVERY_MS).unref()
  app.addHook('onClose', async () => clearInterval(purge))
}, { name: 'idempotency', dependencies: ['services'] })
