import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'

// Keys are only read from the Authorization header, but a client may still send one as `?api_key=`: it is refused,
// and the request line would carry it into the log all the same.
const CREDENTIAL_PARAMETER = /key|token|secret|password|auth|signature|session/i
const API_KEY = /mxk_[A-Za-z0-9_-]+/g
const REDACTED = '[Redacted]'

/** The URL with the values of credential-like query parameters, and anything shaped like an API key, replaced. */
export function redactUrl (url: string): string {
  const keyless = url.replace(API_KEY, `mxk_${REDACTED}`)
  const q = keyless.indexOf('?')
  if (q === -1) return keyless
  const query = keyless.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    if (eq === -1) return pair
    let name = pair.slice(0, eq)
    try { name = decodeURIComponent(name) } catch {}
    return CREDENTIAL_PARAMETER.test(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair
  })
  return `${keyless.slice(0, q)}?${query.join('&')}`
}

/** The request as the log records it: Fastify's default fields, with the URL redacted. */
export function serializeRequest (req: FastifyRequest) {
  return {
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort
  }
}

/**
 * Fastify's request log lines, with the "request completed" line flattened into the fields that a log search
 * filters on: the route pattern (never the raw URL, which the "incoming request" line with the same `reqId`
 * has, redacted), method, status, duration in milliseconds, and the id of the API key used (never its secret).
 */
export class RequestLog extends LogController {
  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (this.isLogDisabled(request)) return
    const fields = {
      method: request.method,
      route: request.routeOptions.url ?? null,
      status: reply.statusCode,
      duration_ms: Math.round(reply.elapsedTime * 100) / 100,
      api_key_id: request.apiKey?.id
    }
    if (error) reply.log.error({ ...fields, err: error }, 'request errored')
    else reply.log.info(fields, 'request completed')
  }
}
