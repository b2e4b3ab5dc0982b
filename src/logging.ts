import type { FastifyRequest } from 'fastify'

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
