import { Type } from '@sinclair/typebox'
import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { InvalidInput } from '../errors.js'

const CHANGE_REASON = 'change-reason'
const MAX_LENGTH = 500

const ChangeReasonHeader = Type.String({
  minLength: 1,
  maxLength: 3 * 3 * MAX_LENGTH,
  pattern: '^[\\x20-\\x7E]+$',
  description: `Why you make this change (at most ${MAX_LENGTH} characters), kept in the resource's history. ` +
    'HTTP headers carry ASCII: percent-encode other characters as UTF-8 (`Source%20retracted%20%E2%80%94%20see%20AP`).',
  examples: ['Source retracted the report']
})

const writes = (route: Pick<RouteOptions, 'method' | 'config'>) =>
  ['POST', 'PATCH', 'DELETE'].includes(String(route.method)) && (route.config?.scope === 'write' || route.config?.scope === 'admin')

function decode (header: string): string {
  let reason: string
  try {
    reason = decodeURIComponent(header).trim()
  } catch {
    throw new InvalidInput({ in: 'headers', pointer: `/${CHANGE_REASON}`, message: 'must be valid percent-encoded UTF-8' })
  }
  if (reason.length === 0 || reason.length > MAX_LENGTH || /\p{Cc}/u.test(reason)) {
    throw new InvalidInput({ in: 'headers', pointer: `/${CHANGE_REASON}`, message: `must be 1 to ${MAX_LENGTH} characters of text once decoded` })
  }
  return reason
}

/** The `Change-Reason` header on every write, documented, checked and handed to the history rows. */
export default fp(async (app) => {
  app.addHook('onRoute', (route) => {
    if (!writes(route)) return
    const schema = route.schema ?? {}
    const headers = (schema.headers ?? Type.Object({})) as { properties?: Record<string, unknown> }
    route.schema = { ...schema, headers: { ...headers, properties: { ...headers.properties, [CHANGE_REASON]: ChangeReasonHeader } } }
  })
  app.addHook('preHandler', async (req) => {
    const header = req.headers[CHANGE_REASON]
    // Only writes take the header; elsewhere it is undocumented, and ignored like any other unknown header.
    if (typeof header === 'string' && writes(req.routeOptions)) req.changeReason = decode(header)
  })
}, { name: 'change-reason', dependencies: ['auth'] })
