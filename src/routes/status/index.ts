import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { commonProblems, readSecurity } from '../../schemas/common.js'
import { StatusChanges, StatusChangesQuery, StatusList, StatusQuery } from '../../schemas/insight.js'

const tags = ['status']

const statusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { postures } = app.services

  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listStatus',
      summary: 'Postures as of a date',
      description: "Each company's posture per region and service on `as_of` (today by default): the action of its latest live " +
        'event there on or before that date. Events on the same date are ordered by when they were recorded, then by id. ' +
        'A country in `region` also matches its subdivisions; `action` filters the postures, not the events. ' +
        'With `known_at`, the postures follow from the events and companies as they were recorded at that moment.',
      tags,
      querystring: StatusQuery,
      response: { 200: StatusList, ...commonProblems }
    }
  }, async (req) => {
    const knownAt = req.query.known_at
    return knownAt === undefined ? postures.status(req.query) : app.services.knownAt.run(knownAt, () => postures.status(req.query))
  })

  app.get('/changes', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listStatusChanges',
      summary: 'Postures that changed between two dates',
      description: 'Every company, region and service whose posture on `to` has another action than on `from` (or had none on `from`).',
      tags,
      querystring: StatusChangesQuery,
      response: { 200: StatusChanges, ...commonProblems }
    }
  }, async (req) => postures.changes(req.query))
}
export default statusRoutes
