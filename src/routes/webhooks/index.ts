import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { IdParams, NoQuery, Problem, bodyProblems, commonProblems, createProblems, problems, ref } from '../../schemas/common.js'
import {
  Webhook, WebhookCreate, WebhookCreated, WebhookDelivery, WebhookDeliveryList, WebhookDeliveryListQuery,
  WebhookDeliveryParams, WebhookList, WebhookListQuery
} from '../../schemas/webhooks.js'
import { noContent } from '../conditional.js'

const tags = ['webhooks']
// Webhook management needs a key with the `admin` scope: a subscription makes the server call out.
const security = [{ bearerAuth: [] }]
const adminProblems = { ...commonProblems, 403: problems[403] }

const deliveryDescription = 'Each matching change is POSTed, at least once, as its change feed JSON (`Content-Type: application/json`), ' +
  'with `Webhook-Id` (the delivery id: the same on every retry, to drop duplicates) and ' +
  '`Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`, as Stripe signs. ' +
  'A 2xx answer acknowledges it; anything else, a timeout or no connection is retried with exponential backoff, ' +
  'and every attempt is in the delivery log.'

const webhooksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { webhooks } = app.services

  app.post('', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'createWebhook',
      summary: 'Subscribe to changes',
      description: 'Subscribes a URL to the changes that match `filters`, from now on. ' + deliveryDescription + ' ' +
        'The URL\'s host must be, and resolve to, public addresses: private, loopback, link-local and other special ' +
        'addresses are refused with a 422 `APP_WEBHOOK_TARGET_REFUSED` (checked again at each delivery). ' +
        'The secret, given or generated, is in this response only.',
      tags,
      security,
      querystring: NoQuery,
      body: ref(WebhookCreate),
      response: {
        201: WebhookCreated,
        ...createProblems,
        422: {
          description: 'The URL is refused as a webhook target (`APP_WEBHOOK_TARGET_REFUSED`, `errors` points at `/url`), or the `Idempotency-Key` was already used with another request.',
          content: { 'application/problem+json': { schema: ref(Problem) } }
        }
      }
    }
  }, async (req, reply) => {
    const created = await webhooks.create(req.body, req.apiKey?.id ?? null)
    reply.code(201).header('location', `/v1/webhooks/${created.id}`)
    return created
  })

  app.get('', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'listWebhooks',
      summary: 'List webhook subscriptions',
      description: 'Live subscriptions in creation order, keyset-paginated, never with their secret.',
      tags,
      security,
      querystring: WebhookListQuery,
      response: { 200: WebhookList, ...adminProblems }
    }
  }, async (req) => webhooks.list(req.query))

  app.get('/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'getWebhook',
      summary: 'Get a webhook subscription',
      description: 'One live subscription, without its secret.',
      tags,
      security,
      params: IdParams,
      querystring: NoQuery,
      response: { 200: { ...ref(Webhook), description: 'The subscription.' }, ...adminProblems, 404: problems[404] }
    }
  }, async (req) => webhooks.get(req.params.id))

  app.delete('/:id', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'deleteWebhook',
      summary: 'Delete a webhook subscription',
      description: 'Stops deliveries at once: no new ones are made, and pending ones are marked failed. ' +
        'Its delivery log is kept but no longer listed. Deleting again is a 404.',
      tags,
      security,
      params: IdParams,
      querystring: NoQuery,
      response: { 204: { ...noContent, description: 'Deleted.' }, ...adminProblems, 404: problems[404], ...bodyProblems }
    }
  }, async (req, reply) => {
    await webhooks.remove(req.params.id)
    reply.code(204)
  })

  app.get('/:id/deliveries', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'listWebhookDeliveries',
      summary: 'List a subscription\'s deliveries',
      description: 'The delivery log: one entry per change sent to this subscription, with its status, attempts and ' +
        'latest outcome, oldest first, keyset-paginated; `status` keeps one status.',
      tags,
      security,
      params: IdParams,
      querystring: WebhookDeliveryListQuery,
      response: { 200: WebhookDeliveryList, ...adminProblems, 404: problems[404] }
    }
  }, async (req) => webhooks.listDeliveries(req.params.id, req.query))

  app.post('/:id/deliveries/:delivery_id/replay', {
    config: { scope: 'admin' },
    schema: {
      operationId: 'replayWebhookDelivery',
      summary: 'Send a delivery again',
      description: 'Queues the delivery again, whatever its status (failed, or succeeded but lost by the receiver): it ' +
        'becomes `pending` and gets a new series of attempts with the same `Webhook-Id`, and a fresh signature.',
      tags,
      security,
      params: WebhookDeliveryParams,
      querystring: NoQuery,
      response: { 202: { ...ref(WebhookDelivery), description: 'Queued; the delivery as it now stands.' }, ...adminProblems, 404: problems[404], ...bodyProblems }
    }
  }, async (req, reply) => {
    const delivery = await webhooks.replay(req.params.id, req.params.delivery_id)
    reply.code(202)
    return delivery
  })
}
export default webhooksRoutes
