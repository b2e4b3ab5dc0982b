import type { FastifyError, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseUnavailable } from '../db/errors.js'
import { problemKindOf } from '../domain/problems.js'
import type { FieldError } from '../errors.js'
import { patternMessages, type Problem } from '../schemas/common.js'

const RETRY_AFTER_SECONDS = '2'

const formatRules: Record<string, { rule: string, message: (value: unknown) => string }> = {
  'iso-3166-region': { rule: 'must be an ISO 3166 code', message: (v) => `unknown region code '${String(v)}'` },
  'iso-3166-1-alpha-2': { rule: 'must be an ISO 3166-1 alpha-2 code', message: (v) => `unknown country code '${String(v)}'` },
  lei: { rule: 'must be an ISO 17442 LEI', message: () => 'must be a 20-character LEI whose check digits verify (ISO 17442)' },
  bcp47: { rule: 'must be a BCP 47 language tag', message: (v) => `'${String(v)}' is not a well-formed BCP 47 language tag` },
  date: { rule: 'must be a date', message: () => 'must be a real calendar date, YYYY-MM-DD' },
  'date-time': { rule: 'must be a date-time', message: () => 'must be an RFC 3339 date-time' },
  uri: { rule: 'must be a URL', message: () => 'must be an absolute http(s) URL' }
}

/** A field error, and the short rule for the `detail` line, from one Ajv error. */
function describe (context: string, error: FastifySchemaValidationError & { data?: unknown }): FieldError & { rule: string } {
  const params = error.params as Record<string, unknown>
  let pointer = error.instancePath
  let message = error.message ?? 'is invalid'
  let rule = message
  if (error.keyword === 'required') {
    pointer += `/${String(params.missingProperty)}`
    message = rule = 'is required'
  } else if (error.keyword === 'additionalProperties') {
    pointer += `/${String(params.additionalProperty)}`
    message = rule = context === 'querystring' ? 'is not a known query parameter' : 'is not an accepted field'
  } else if (error.keyword === 'format' && formatRules[String(params.format)]) {
    const format = formatRules[String(params.format)]!
    rule = format.rule
    message = format.message(error.data)
  } else if (error.keyword === 'pattern' && patternMessages.has(String(params.pattern))) {
    message = rule = patternMessages.get(String(params.pattern))!
  }
  return { in: context, pointer, message, rule }
}

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

/** RFC 9457 problem details for every error and for unknown routes, in one place. */
export default fp(async (app) => {
  app.setErrorHandler((err: FastifyError & { errors?: FieldError[] }, req, reply) => {
    if (err.validation) {
      const described = err.validation.map((e) => describe(err.validationContext ?? 'body', e))
      const detail = described.map((d) => `${d.in}${d.pointer} ${d.rule}`).join('; ')
      return send(reply, problem(req, 400, detail, 'APP_VALIDATION', described.map(({ rule, ...e }) => e)))
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ err }, 'database unavailable')
      return send(reply, problem(req, 503, 'The database is unavailable; retry shortly', 'APP_DATABASE_UNAVAILABLE'))
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
