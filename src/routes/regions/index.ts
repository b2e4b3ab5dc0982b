import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NoQuery, commonProblems, readSecurity } from '../../schemas/common.js'
import { RegionList } from '../../schemas/regions.js'

const regionsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { regions } = app.services
  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listRegions',
      summary: 'List regions in use',
      description: 'Every region code that live events use, with its English (ISO) name and the number of live events.',
      tags: ['regions'],
      querystring: NoQuery,
      response: { 200: RegionList, ...commonProblems }
    }
  }, async () => regions.list())
}
export default regionsRoutes
