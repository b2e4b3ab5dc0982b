import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemKindBySlug, problemKinds } from '../../domain/problems.js'
import { problems } from '../../schemas/common.js'
import { servedUnderPressure } from '../../plugins/overload.js'
import { isReady } from '../../services/health.js'

const tags = ['meta']

const Health = Type.Object({
  status: Type.String({ maxLength: 10, examples: ['ok'] })
}, { additionalProperties: false, description: 'The process is alive.' })

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')], { examples: ['ready'] }),
  checks: Type.Object({
    database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')], { examples: ['ok'] }),
    migrations: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('unknown')], { examples: ['ok'] }),
    redis: Type.Union([Type.Literal('ok'), Type.Literal('unreachable'), Type.Literal('not_configured')], {
      examples: ['not_configured'],
      description: 'The Redis of the shared rate limits (`REDIS_URL`); `not_configured` without one, which does not stop readiness.'
    }),
    job_queue: Type.Union([Type.Literal('ok'), Type.Literal('missing'), Type.Literal('unreachable'), Type.Literal('unknown')], {
      examples: ['ok'],
      description: 'The job queue of webhook deliveries (pg-boss, in the database): `missing` until the migrations made it.'
    })
  }, { additionalProperties: false })
}, { additionalProperties: false })

const metaRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/healthz', {
    config: servedUnderPressure,
    schema: {
      operationId: 'getHealth',
      summary: 'Liveness',
      description: 'Answers as long as the process serves requests. It never touches the database, so pool exhaustion cannot fail it.',
      tags,
      response: { 200: Health }
    }
  }, async () => ({ status: 'ok' }))

  // Not shed under load either: readiness reports on its dependencies, and its 503 has a body of its own.
  app.get('/readyz', {
    config: servedUnderPressure,
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: 'Ready when the database answers within a second, every migration is applied, the job queue is there, and Redis ' +
        'answers when one is configured. Each check has a timeout of its own (a second), so that the answer takes at most two.',
      tags,
      response: {
        200: { ...Readiness, description: 'Ready to serve.' },
        503: { ...Readiness, description: 'Not ready; `checks` says which part fails.' }
      }
    }
  }, async (_req, reply) => {
    const checks = await app.services.health.readiness({ redis: app.redis })
    const ready = isReady(checks)
    if (!ready) reply.code(503).header('retry-after', '2')
    return { status: ready ? 'ready' as const : 'not_ready' as const, checks }
  })

  app.get('/metrics', {
    // Scrapes matter most while the process is overloaded.
    config: servedUnderPressure,
    schema: {
      operationId: 'getMetrics',
      summary: 'Prometheus metrics',
      description: 'This instance\'s metrics in the Prometheus text format: requests and latency per route pattern and status class, ' +
        'the PostgreSQL pool, database errors, the webhook job queue\'s depth, event-loop delay and other process metrics. ' +
        'Needs `Authorization: Bearer <METRICS_TOKEN>` (a setting of the server, not an API key); without that setting, ' +
        'metrics are off and this is a 404. Not rate-limited.',
      tags,
      security: [{ metricsToken: [] }],
      produces: ['text/plain'],
      response: {
        200: {
          description: 'The metrics (text format 0.0.4).',
          content: {
            'text/plain': {
              schema: Type.String({
                maxLength: 16_777_216,
                examples: ['# HELP http_requests_total HTTP requests answered, by route pattern, method and status class.\n' +
                  '# TYPE http_requests_total counter\nhttp_requests_total{method="GET",route="/v1/events/:id",status_class="2xx"} 42\n']
              })
            }
          }
        },
        401: problems[401],
        404: problems[404]
      }
    }
  }, async (req, reply) => {
    if (!app.metrics.enabled) return reply.callNotFound()
    app.metrics.authorize(req.headers.authorization)
    const { contentType, body } = await app.metrics.render()
    reply.type(contentType)
    return body
  })

  app.get('/problems/:kind', {
    schema: {
      operationId: 'getProblemType',
      summary: 'Explain a kind of error',
      description: 'The `type` of every problem response resolves here to a short explanation in plain text.',
      tags,
      params: Type.Object({
        kind: Type.String({ maxLength: 50, examples: ['validation-error'], description: `One of: ${Object.values(problemKinds).map((k) => k.slug).join(', ')}, client-error.` })
      }, { additionalProperties: false }),
      produces: ['text/plain'],
      response: {
        200: { description: 'The explanation.', content: { 'text/plain': { schema: Type.String({ maxLength: 10000, examples: ['Request validation failed\n\nThe request is malformed…'] }) } } },
        // A kind longer than any there is fails the params schema.
        400: problems[400],
        404: problems[404]
      }
    }
  }, async (req, reply) => {
    const kind = problemKindBySlug(req.params.kind)
    if (!kind) return reply.callNotFound()
    reply.type('text/plain; charset=utf-8')
    return `${kind.title}\n\n${kind.explanation}\n`
  })
}
export default metaRoutes
