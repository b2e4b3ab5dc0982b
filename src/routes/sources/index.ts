import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { commonProblems, readSecurity } from '../../schemas/common.js'
import { SourceList, SourceListQuery } from '../../schemas/sources.js'

const sourcesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listSources',
      summary: 'Find sources and the events they support',
      description: 'With `url`, the source stored under that URL (or an empty list), with the live events that cite it: ' +
        'who said what, for which events. Without it, every stored source, keyset-paginated.',
      tags: ['sources'],
      querystring: SourceListQuery,
      response: { 200: SourceList, ...commonProblems }
    }
  }, async (req) => app.services.sources.list(req.query))
}
export default sourcesRoutes
