import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ChangeList, ChangeListQuery } from '../../schemas/changes.js'
import { commonProblems, readSecurity } from '../../schemas/common.js'

const changesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listChanges',
      summary: 'Read the change feed',
      description: 'Every create, update, delete and restore of an event or a company, oldest first, to keep a copy in sync. ' +
        'Start without `after` (the oldest retained change; history is kept forever, at least 90 days is promised) and ' +
        'pass each `next_cursor` as `after`; an empty page returns the same cursor, to poll again later. ' +
        'A change appears once every transaction that started before it has finished, so a poller never misses one, ' +
        'and the changes of one resource come in the order they were committed.',
      tags: ['changes'],
      querystring: ChangeListQuery,
      response: { 200: ChangeList, ...commonProblems }
    }
  }, async (req) => app.services.changes.list(req.query))
}
export default changesRoutes
