import { Type } from '@sinclair/typebox'
import type { FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { currentLsn, parseLsn } from '../db/replicas.js'

export const CONSISTENCY_TOKEN = 'consistency-token'
const SERVED_BY = 'x-served-by'
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

const ConsistencyTokenHeader = Type.String({
  maxLength: 17,
  pattern: '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$',
  description: 'The `Consistency-Token` of a write response: the answer then includes that write (read your own writes). ' +
    'Without it, a read may be served by a read replica that is a little behind.',
  examples: ['0/1A2B3C48']
})

const isApi = (url: string | undefined) => url?.startsWith('/v1/') === true
const reads = (route: RouteOptions) => isApi(route.url) && [route.method].flat().some((m) => m === 'GET' || m === 'HEAD')

/**
 * Read-your-writes over read replicas. Every successful write answers a `Consistency-Token` (the primary's WAL
 * position after it); every API read takes one, and then a replica serves it only once it has replayed that far,
 * else the primary does. Reads with replicas answer `X-Served-By: replica|primary`.
 */
export default fp(async (app) => {
  const replicas = app.readReplicas
  const servedBy = new WeakMap<FastifyRequest, () => 'replica' | 'primary'>()

  app.addHook('onRoute', (route) => {
    if (!reads(route)) return
    const schema = route.schema ?? {}
    const headers = (schema.headers ?? Type.Object({})) as { properties?: Record<string, unknown> }
    route.schema = { ...schema, headers: { ...headers, properties: { ...headers.properties, [CONSISTENCY_TOKEN]: ConsistencyTokenHeader } } }
    if (!replicas) return
    // The handler alone reads from the replica: hooks before it (authentication above all) see the primary.
    const handler = route.handler
    route.handler = async function (this: unknown, req, reply) {
      const header = req.headers[CONSISTENCY_TOKEN]
      const replica = await replicas.choose(parseLsn(typeof header === 'string' ? header : undefined))
      if (!replica) {
        servedBy.set(req, () => 'primary')
        return handler.call(this as never, req, reply)
      }
      const read = replicas.read(replica)
      servedBy.set(req, read.servedBy)
      return read.run(async () => handler.call(this as never, req, reply))
    }
  })

  app.addHook('onSend', async (req, reply, payload) => {
    if (WRITES.has(req.method) && reply.statusCode >= 200 && reply.statusCode < 300 && isApi(req.routeOptions.url)) {
      // Asked after the handler returned, so after its commit: never the replica, whatever the request.
      const token = await currentLsn(app.database.db).catch((err: unknown) => {
        req.log.warn({ err }, 'no consistency token: the primary did not say its WAL position')
      })
      if (token) reply.header(CONSISTENCY_TOKEN, token)
    }
    const served = servedBy.get(req)
    if (served) reply.header(SERVED_BY, served())
    return payload
  })
}, { name: 'read-consistency', dependencies: ['db'] })
