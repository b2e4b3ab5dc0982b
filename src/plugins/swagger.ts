import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import { Type } from '@sinclair/typebox'
import fp from 'fastify-plugin'
import { documentResponseHeaders, headerComponents } from '../schemas/headers.js'
import { customFormats } from '../validation.js'

const description = `Records and serves corporate market-exit events: company X took action Y on service Z in region R on date D, as reported by sources S.

Errors are RFC 9457 problem details (\`application/problem+json\`); \`GET\` on a problem's \`type\` explains it.
Lists are keyset-paginated: pass \`next_cursor\` back as \`cursor\` with the same filters and sort.
Single resources carry an \`ETag\` (their version): \`If-None-Match\` answers 304, \`If-Match\` on PATCH and DELETE answers 412 when stale.
Writes need \`Authorization: Bearer <key>\` with the \`write\` scope. Custom string formats: ${Object.keys(customFormats).map((f) => `\`${f}\``).join(', ')}.`

// Relative, so that the document is right wherever it is served; `x-internal: false` marks a public API.
const thisServer = { url: '/', description: 'The server that serves this document: local, staging or production alike.', 'x-internal': false }

// What a subscribed endpoint receives (OpenAPI 3.1 `webhooks`): one change, as the change feed serves it.
const webhooks = {
  change: {
    post: {
      operationId: 'receiveChange',
      summary: 'A change, delivered to a webhook subscription',
      description: 'Sent at least once per matching change, retried with exponential backoff until your endpoint answers 2xx. ' +
        'Verify `Webhook-Signature` over the raw body before parsing it (the SDK\'s `verifyWebhookSignature` does), and drop ' +
        'repeats by `Webhook-Id`. Changes to one resource are sent in order, but retries can make them arrive out of order: ' +
        'compare `version`.',
      tags: ['webhooks'],
      parameters: [
        {
          name: 'Webhook-Signature',
          in: 'header' as const,
          required: true,
          description: '`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the subscription secret>`. Refuse old timestamps (5 minutes) against replays.',
          schema: { type: 'string' as const, maxLength: 200, pattern: '^t=\\d+(,v1=[0-9a-f]{64})+$' },
          example: 't=1764170000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd'
        },
        {
          name: 'Webhook-Id',
          in: 'header' as const,
          required: true,
          description: 'The delivery id: the same on every retry and replay of one delivery.',
          schema: { type: 'string' as const, format: 'uuid', maxLength: 36 },
          example: '01936f0e-9b21-7cc1-9b8a-4f2a1e3c5d71'
        }
      ],
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Change' } } } },
      responses: {
        200: { description: 'Any 2xx acknowledges the delivery; anything else, or no answer within the timeout, is retried.' }
      }
    }
  }
}

/** The OpenAPI 3.1 document, built from the route schemas, served at /openapi.json and rendered at /docs. */
export default fp(async (app) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Market Exits API',
        version: '1.0.0',
        description,
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [thisServer],
      webhooks,
      tags: [
        { name: 'events', description: 'Market-exit events and their sources.' },
        { name: 'companies', description: 'Companies that take market-exit actions.' },
        { name: 'regions', description: 'Region codes in use.' },
        { name: 'status', description: 'Postures (the latest action per company, region and service) as of a date, and how they changed.' },
        { name: 'sources', description: 'Where the events come from: each source once per URL, with the events it supports.' },
        { name: 'changes', description: 'The change feed: every write of an event or a company, in order, to keep a copy in sync.' },
        { name: 'api-keys', description: 'API keys and their scopes (`admin` scope).' },
        { name: 'webhooks', description: 'Signed deliveries of the change feed to your endpoint, with a delivery log and replays (`admin` scope).' },
        { name: 'imports', description: 'Bulk imports of events (NDJSON, CSV, the Yale CELI list) and the outcome of every line.' },
        { name: 'meta', description: 'Health, readiness, the API description and error explanations.' }
      ],
      components: {
        headers: headerComponents,
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key, created with `npm run key:create`.' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'The server\'s `METRICS_TOKEN` setting (only `GET /metrics` takes it).' }
        }
      }
    },
    // Name shared schemas after their $id, so generated SDKs get types called Event, Company, Problem…
    transformObject: (document) => 'openapiObject' in document ? documentResponseHeaders(document.openapiObject) : document.swaggerObject,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  // The UI's own Content-Security-Policy (its scripts and styles), in place of the API's stricter one.
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })

  app.get('/openapi.json', {
    schema: {
      operationId: 'getOpenApiDocument',
      summary: 'The OpenAPI document',
      description: 'This API described as OpenAPI 3.1; the same document is committed as `openapi/openapi.json`.',
      tags: ['meta'],
      response: {
        200: Type.Object({
          openapi: Type.String({ maxLength: 10, examples: ['3.1.0'] })
        }, { additionalProperties: true, description: 'The OpenAPI 3.1 document.' })
      }
    }
  }, async () => app.swagger())
}, { name: 'swagger' })
