import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyListQuery } from '../../schemas/api-keys.js'
import { IdParams, NoQuery, bodyProblems, commonProblems, createProblems, problems, ref } from '../../schemas/common.js'
import { noContent } from '../conditional.js'

const tags = ['api-keys']
// Key management needs a key with the `admin` scope.
const security = [{ bearerAuth: [] }]
const adminProblems = { ...commonProblems, 403: problems[403] }

const apiKeysRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { apiKeys } = app.services

  app.post('', {
    // Its answer holds a secret that is stored nowhere, so it cannot be replayed: a retry creates another key.
    config: { scope: 'admin', idempotent: false },
    schema: {
      operationId: 'createApiKey',
      summary: 'Create an API key',
      description: 'Creates a key with the given scopes. The secret (`key`) is in this response only: the server keeps its hash.',
      tags,
      security,
      querystring: NoQuery,
      body: ref(ApiKeyCreate),
      response: { 201: ApiKeyCreated, ...createProblems }
    }
  }, async (req, reply) => {
    const created = await apiKeys.create(req.body.name, req.body.scopes)
    reply.code(201).header('location', `/v1/api-keys/${created.id}`)
    return created
  })

  app.get('', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'listApiKeys',
      summary: 'List API keys',
      description: 'Keys in creation order, keyset-paginated, never with their secret.',
      tags,
      security,
      querystring: ApiKeyListQuery,
      response: { 200: ApiKeyList, ...adminProblems }
    }
  }, async (req) => apiKeys.list(req.query))

  app.get('/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'getApiKey',
      summary: 'Get an API key',
      description: 'One key, active or revoked, without its secret.',
      tags,
      security,
      params: IdParams,
      querystring: NoQuery,
      response: { 200: { ...ref(ApiKey), description: 'The key.' }, ...adminProblems, 404: problems[404] }
    }
  }, async (req) => apiKeys.get(req.params.id))

  app.delete('/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'revokeApiKey',
      summary: 'Revoke an API key',
      description: 'The key stops working at once, on every instance: keys are checked against the database on each request. ' +
        'A key may revoke itself. An unknown or already revoked key is a 404.',
      tags,
      security,
      params: IdParams,
      querystring: NoQuery,
      response: { 204: { ...noContent, description: 'Revoked.' }, ...adminProblems, 404: problems[404], ...bodyProblems }
    }
  }, async (req, reply) => {
    await apiKeys.revokeById(req.params.id)
    reply.code(204)
  })
}
export default apiKeysRoutes
