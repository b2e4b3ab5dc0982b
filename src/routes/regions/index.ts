import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { commonProblems } from '../../schemas/common.js'
import { RegionList } from '../../schemas/regions.js'

const regionsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { regions } = app.services
  app.get('', {
    config: { scope: 'read' },
    schema: {
      operationId: 'listRegions',
      summary: 'List regions in use',
      description: 'Every region code that live events use, with its English (ISO) name and the number of live events.',
      tags: ['regions'],
      response: { 200: RegionList, ...commonProblems }
    }
  }, async () => regions.list())
}
export default regionsRoutes
