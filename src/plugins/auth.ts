import fp from 'fastify-plugin'
import { Forbidden, Unauthorized } from '../errors.js'
import { SYSTEM_ACTOR, type Actor } from '../services/revisions.js'
import type { ApiKeyIdentity, Scope } from '../services/api-keys.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a route needs; `read` routes are public unless READ_REQUIRES_KEY is set. */
    scope?: Scope
  }
  interface FastifyRequest {
    apiKey: ApiKeyIdentity | null
    /** Who the request acts as, for history rows. */
    readonly actor: Actor
    /** Why the client makes this change (the Change-Reason header), for history rows. */
    changeReason: string | null
  }
}

// A key with a scope can do what the lesser scopes allow.
const implied: Record<Scope, Scope[]> = { read: ['read'], write: ['read', 'write'], admin: ['read', 'write', 'admin'] }
const BEARER = /^Bearer +(\S+)$/i

/**
 * Checks the API key in `onRequest`, before the body is read, so that an anonymous client
 * cannot make the server buffer a large body.
 */
export default fp<{ readRequiresKey: boolean }>(async (app, { readRequiresKey }) => {
  app.decorateRequest('apiKey', null)
  app.decorateRequest('changeReason', null)
  app.decorateRequest('actor', {
    getter () { return { ...(this.apiKey ? { apiKeyId: this.apiKey.id } : SYSTEM_ACTOR), reason: this.changeReason } }
  })

  app.addHook('onRequest', async (req) => {
    const scope = req.routeOptions.config.scope
    const header = req.headers.authorization
    // A key sent to a public read is still checked, so that the request counts against that key's rate limit, not its IP's.
    if (scope === undefined || (scope === 'read' && !readRequiresKey && header === undefined)) return
    if (header === undefined) throw new Unauthorized('This operation needs an API key: send Authorization: Bearer <key>')
    const presented = BEARER.exec(header)?.[1]
    const key = presented === undefined ? undefined : await app.services.apiKeys.authenticate(presented)
    if (!key) throw new Unauthorized('The API key is unknown or revoked')
    if (!key.scopes.some((s) => implied[s].includes(scope))) throw new Forbidden(scope)
    req.apiKey = key
  })
}, { name: 'auth', dependencies: ['services'] })
