import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { problemKindBySlug, problemKinds } from '../../domain/problems.js'
import { problems } from '../../schemas/common.js'
import { servedUnderPressure } from '../../plugins/overload.js'

const tags = ['meta']

const Health = Type.Object({
  status: Type.String({ maxLength: 10, examples: ['ok'] })
}, { additionalProperties: false, description: 'The process is alive.' })

const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')], { examples: ['ready'] }),
  checks: Type.Object({
    database: Type.Union([Type.Literal('ok'), Type.Literal('unreachable')], { examples: ['ok'] }),
    migrations: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('unknown')], { examples: ['ok'] })
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

  app.get('/readyz', {
    schema: {
      operationId: 'getReadiness',
      summary: 'Readiness',
      description: 'Ready when the database answers within a second and every migration is applied.',
      tags,
      response: {
        200: { ...Readiness, description: 'Ready to serve.' },
        503: { ...Readiness, description: 'Not ready; `checks` says which part fails.' }
      }
    }
  }, async (_req, reply) => {
    const checks = await app.services.health.readiness()
    const ready = checks.database === 'ok' && checks.migrations === 'ok'
    if (!ready) reply.code(503).header('retry-after', '2')
    return { status: ready ? 'ready' as const : 'not_ready' as const, checks }
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
