import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseUnavailable, isTransactionConflict } from '../db/errors.js'
import { problemKindOf } from '../domain/problems.js'
import type { FieldError } from '../errors.js'
import type { Problem } from '../schemas/common.js'
import { describeValidationError } from '../validation.js'

const RETRY_AFTER_SECONDS = '2'

function problem (req: FastifyRequest, status: number, detail: string, code: string, errors?: FieldError[]): Problem {
  const kind = problemKindOf(status, code)
  return {
    type: `/problems/${kind.slug}`,
    title: kind.title,
    status,
    detail,
    instance: req.url.split('?')[0]!,
    code,
    request_id: req.id,
    ...(errors ? { errors } : {})
  }
}

function send (reply: FastifyReply, body: Problem) {
  if (body.status === 503) reply.header('retry-after', RETRY_AFTER_SECONDS)
  if (body.status === 401) reply.header('www-authenticate', 'Bearer realm="market-exits"')
  return reply.code(body.status).type('application/problem+json; charset=utf-8').send(body)
}

// Errors Fastify meets before routing, with its own JSON unless it is given a handler (`frameworkErrors`).
const FRAMEWORK_ERRORS: Record<string, string> = {
  FST_ERR_BAD_URL: 'The path is not valid percent-encoding',
  FST_ERR_MAX_PARAM_LENGTH: 'A path parameter is longer than any valid one'
}

/** Errors met before routing (a malformed path, an over-long path parameter), answered as 400 problems too. */
export function answerFrameworkError (err: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  return send(reply, problem(req, 400, FRAMEWORK_ERRORS[err.code] ?? 'The request could not be routed', err.code))
}

/** The media types an operation's body may have: those its body schema is keyed by, else JSON (a merge patch for PATCH). */
function acceptedMediaTypes (req: FastifyRequest): string[] {
  const content = (req.routeOptions.schema?.body as { content?: Record<string, unknown> } | undefined)?.content
  if (content !== undefined) return Object.keys(content)
  return req.method === 'PATCH' ? ['application/merge-patch+json', 'application/json'] : ['application/json']
}

/** RFC 9457 problem details for every error and for unknown routes, in one place. */
export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError & { errors?: FieldError[] }, req, reply) => {
    if (err.validation) {
      const described = err.validation.map((e) => describeValidationError(err.validationContext ?? 'body', e))
      const detail = described.map((d) => `${d.in}${d.pointer} ${d.rule}`).join('; ')
      return send(reply, problem(req, 400, detail, 'APP_VALIDATION', described.map(({ rule, ...e }) => e)))
    }
    // Fastify's handler timeout runs from routing on, so it also ends a body that arrives too slowly: the client's fault.
    if (err.code === 'FST_ERR_HANDLER_TIMEOUT' && !req.raw.complete) {
      return send(reply, problem(req, 408, 'The request body did not arrive in the time allowed', 'APP_REQUEST_TIMEOUT'))
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ err }, 'database unavailable')
      return send(reply, problem(req, 503, 'The database is unavailable; retry shortly', 'APP_DATABASE_UNAVAILABLE'))
    }
    // Retried already (db/ambient.ts): a write that keeps meeting concurrent ones applied nothing and may be sent again.
    if (isTransactionConflict(err)) {
      req.log.warn({ err }, 'write conflicted with concurrent writes')
      return send(reply, problem(req, 503, 'The write kept conflicting with concurrent writes and was not applied; retry it', 'APP_WRITE_CONFLICT'))
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      const accepted = acceptedMediaTypes(req).join(' or ')
      const sent = req.headers['content-type'] === undefined ? 'A body without Content-Type' : `Content-Type ${JSON.stringify(req.headers['content-type'])}`
      return send(reply, problem(req, 415, `${sent} is not accepted here: send ${accepted}`, err.code,
        [{ in: 'headers', pointer: '/content-type', message: `must be ${accepted}` }]))
    }
    const status = err.statusCode ?? 500
    if (status >= 500 && status !== 503) {
      req.log.error({ err }, 'request failed')
      return send(reply, problem(req, status, 'Internal Server Error', 'APP_INTERNAL'))
    }
    return send(reply, problem(req, status, err.message, err.code ?? 'APP_CLIENT_ERROR', err.errors))
  })

  app.setNotFoundHandler((req, reply) =>
    send(reply, problem(req, 404, `No route ${req.method} ${req.url.split('?')[0]}`, 'APP_ROUTE_NOT_FOUND')))
}, { name: 'errors' })
