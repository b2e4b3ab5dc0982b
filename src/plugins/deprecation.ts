import type { RouteOptions } from 'fastify'
import fp from 'fastify-plugin'

/** When a route was deprecated, when it will stop working, and where that is explained. */
export interface Deprecation {
  /** An RFC 3339 date or date-time. */
  since: string
  sunset?: string
  link?: string
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Marks the route deprecated: in the OpenAPI document, and by `Deprecation`/`Sunset`/`Link` response headers. */
    deprecated?: Deprecation
  }
}

const DATE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/

function instant (route: RouteOptions, field: string, value: string): Date {
  const date = new Date(value)
  if (!DATE.test(value) || Number.isNaN(date.getTime())) {
    throw new Error(`${route.method} ${route.url}: deprecated.${field} '${value}' is not an RFC 3339 date or date-time`)
  }
  return date
}

/** The headers of RFC 9745 (Deprecation), RFC 8594 (Sunset) and the deprecation link, checked once per route. */
function headersOf (route: RouteOptions, { since, sunset, link }: Deprecation): Record<string, string> {
  const headers: Record<string, string> = { deprecation: `@${Math.floor(instant(route, 'since', since).getTime() / 1000)}` }
  if (sunset !== undefined) headers.sunset = instant(route, 'sunset', sunset).toUTCString()
  if (link !== undefined) headers.link = `<${new URL(link).href}>; rel="deprecation"`
  return headers
}

/**
 * Routes marked `config.deprecated` are documented as deprecated and say so on every response, errors included
 * (this hook runs before auth's).
 */
export default fp(async (app) => {
  const byRoute = new Map<Deprecation, Record<string, string>>()
  app.addHook('onRoute', (route) => {
    const deprecated = route.config?.deprecated
    if (deprecated === undefined) return
    byRoute.set(deprecated, headersOf(route, deprecated))
    route.schema = { ...route.schema, deprecated: true }
  })
  app.addHook('onRequest', async (req, reply) => {
    const deprecated = req.routeOptions.config.deprecated
    if (deprecated !== undefined) reply.headers(byRoute.get(deprecated)!)
  })
}, { name: 'deprecation' })
