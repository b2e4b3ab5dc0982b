import cors from '@fastify/cors'
import fp from 'fastify-plugin'

const METHODS = ['GET', 'POST', 'PATCH', 'DELETE']
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'If-Match', 'If-None-Match', 'Idempotency-Key', 'Change-Reason', 'X-Request-Id', 'Consistency-Token']
const EXPOSED_HEADERS = [
  'ETag', 'Location', 'Retry-After', 'X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset',
  'Deprecation', 'Sunset', 'Link', 'Idempotent-Replayed', 'Consistency-Token', 'X-Served-By'
]
// Browsers cache a preflight this long (Chromium caps it at 2 hours).
const PREFLIGHT_MAX_AGE_SECONDS = 7200

/** The origins of a comma-separated list; anything that is not exactly an origin (`https://host[:port]`) stops the boot. */
function parseOrigins (list: string): string[] {
  const origins = list.split(',').map((o) => o.trim()).filter((o) => o !== '')
  for (const origin of origins) {
    let parsed: URL | undefined
    try { parsed = new URL(origin) } catch {}
    if (parsed?.origin !== origin) throw new Error(`CORS_ORIGINS: '${origin}' is not an origin such as https://app.example.com`)
  }
  return origins
}

/**
 * CORS for browser clients on an allow-list of exact origins; with an empty list the API sends no CORS header at all.
 * Registered before auth, so that a preflight is answered before anything asks for a key, and so that errors
 * (401, 429) reach the page that caused them.
 */
export default fp<{ origins: string }>(async (app, options) => {
  const origins = parseOrigins(options.origins)
  if (origins.length === 0) return
  await app.register(cors, {
    origin: origins,
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: PREFLIGHT_MAX_AGE_SECONDS
  })
}, { name: 'cors' })
