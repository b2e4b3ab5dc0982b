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
      tags: [
        { name: 'events', description: 'Market-exit events and their sources.' },
        { name: 'companies', description: 'Companies that take market-exit actions.' },
        { name: 'regions', description: 'Region codes in use.' },
        { name: 'status', description: 'Postures (the latest action per company, region and service) as of a date, and how they changed.' },
        { name: 'sources', description: 'Where the events come from: each source once per URL, with the events it supports.' },
        { name: 'changes', description: 'The change feed: every write of an event or a company, in order, to keep a copy in sync.' },
        { name: 'api-keys', description: 'API keys and their scopes (`admin` scope).' },
        { name: 'imports', description: 'Bulk imports of events (NDJSON, CSV, the Yale CELI list) and the outcome of every line.' },
        { name: 'meta', description: 'Health, readiness, the API description and error explanations.' }
      ],
      components: {
        headers: headerComponents,
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key, created with `npm run key:create`.' }
        }
      }
    },
    // Name shared schemas after their $id, so generated SDKs get types called Event, Company, Problem…
    transformObject: (document) => 'openapiObject' in document ? documentResponseHeaders(document.openapiObject) : document.swaggerObject,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) }
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

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
