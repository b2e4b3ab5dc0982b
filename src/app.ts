import compress from '@fastify/compress'
import helmet from '@fastify/helmet'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import { v7 as uuidv7 } from 'uuid'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import authPlugin from './plugins/auth.js'
import changeReasonPlugin from './plugins/change-reason.js'
import connectionsPlugin from './plugins/connections.js'
import corsPlugin from './plugins/cors.js'
import dbPlugin from './plugins/db.js'
import deprecationPlugin from './plugins/deprecation.js'
import readConsistencyPlugin from './plugins/read-consistency.js'
import errorsPlugin, { answerFrameworkError } from './plugins/errors.js'
import overloadPlugin from './plugins/overload.js'
import idempotencyPlugin from './plugins/idempotency.js'
import metricsPlugin from './plugins/metrics.js'
import rateLimitPlugin from './plugins/rate-limit.js'
import requestGuardsPlugin from './plugins/request-guards.js'
import servicesPlugin from './plugins/services.js'
import swaggerPlugin from './plugins/swagger.js'
import webhooksPlugin from './plugins/webhooks.js'
import apiKeysRoutes from './routes/api-keys/index.js'
import changesRoutes from './routes/changes/index.js'
import companiesRoutes from './routes/companies/index.js'
import eventsRoutes from './routes/events/index.js'
import importsRoutes from './routes/imports/index.js'
import metaRoutes from './routes/meta/index.js'
import regionsRoutes from './routes/regions/index.js'
import sourcesRoutes from './routes/sources/index.js'
import statusRoutes from './routes/status/index.js'
import webhooksRoutes from './routes/webhooks/index.js'
import { ApiKey, ApiKeyCreate } from './schemas/api-keys.js'
import { Change } from './schemas/changes.js'
import { Company, CompanyCreate, CompanyRef, CompanyUpdate } from './schemas/companies.js'
import { Problem } from './schemas/common.js'
import { Event, EventCreate, EventUpdate, Source, SourceInput } from './schemas/events.js'
import { MatchRequest } from './schemas/insight.js'
import { Webhook, WebhookCreate, WebhookDelivery, WebhookFilters } from './schemas/webhooks.js'
import { parseCidrList } from './domain/addresses.js'
import { RequestLog, serializeRequest } from './logging.js'
import { JsonPatchOperation } from './schemas/revisions.js'
import { customFormats, schemaController } from './validation.js'

export interface BuildOptions {
  database: Database
  logger?: FastifyServerOptions['logger']
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** The caller's logger options, with secrets kept out of every line: credential headers, and keys sent in a URL. */
function loggerOptions (given: Exclude<FastifyServerOptions['logger'], boolean | undefined>) {
  const { serializers, ...rest } = given as { serializers?: Record<string, unknown> }
  return { ...rest, serializers: { req: serializeRequest, ...serializers }, redact: ['req.headers.authorization', 'req.headers.cookie'] }
}

/** The whole API as a Fastify instance, over a database the caller opened; it closes that database on close. */
export async function buildApp (config: Config, { database, logger = { level: config.LOG_LEVEL } }: BuildOptions) {
  const app = Fastify({
    logger: logger === false ? false : loggerOptions(typeof logger === 'object' ? logger : {}),
    bodyLimit: config.BODY_LIMIT_BYTES,
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // A request that is not answered in time gets a 503 problem instead of holding its client.
    handlerTimeout: config.HANDLER_TIMEOUT_MS,
    keepAliveTimeout: config.KEEP_ALIVE_TIMEOUT_MS,
    // Node enforces requestTimeout only when it sweeps its connections, every 30 s by default: a slow client
    // would hold its socket that much longer than the setting says.
    http: { connectionsCheckingInterval: Math.min(1000, config.REQUEST_TIMEOUT_MS) },
    return503OnClosing: true,
    // The "request completed" line carries the route pattern, status, duration and API key id (src/logging.ts).
    logController: new RequestLog(),
    // A well-formed X-Request-Id from the caller is kept, so that one id follows a request across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : uuidv7()
    },
    frameworkErrors: answerFrameworkError,
    schemaController: schemaController(),
    // The serializer picks a branch of a union (a change's data: an event or a company) by validating, so it needs our formats too.
    serializerOpts: { ajv: { formats: customFormats } }
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.addHook('onRequest', async (req, reply) => { reply.header('x-request-id', req.id) })

  for (const schema of [Problem, CompanyRef, Company, CompanyCreate, CompanyUpdate, Source, SourceInput, Event, EventCreate, EventUpdate, MatchRequest, Change, JsonPatchOperation]) {
    app.addSchema(schema)
  }
  for (const schema of [ApiKey, ApiKeyCreate, WebhookFilters, Webhook, WebhookCreate, WebhookDelivery]) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(connectionsPlugin)
  // Before anything that costs a query (authentication), so that shedding load is cheap.
  await app.register(overloadPlugin, {
    maxEventLoopDelayMs: config.OVERLOAD_MAX_EVENT_LOOP_DELAY_MS,
    maxEventLoopUtilization: config.OVERLOAD_MAX_EVENT_LOOP_UTILIZATION
  })
  // Security headers on every response, problems included. The data is public and meant to be fetched from
  // other origins (CORS decides who may read it), so resources are not restricted to this origin.
  await app.register(helmet, { crossOriginResourcePolicy: { policy: 'cross-origin' } })
  await app.register(corsPlugin, { origins: config.CORS_ORIGINS })
  await app.register(deprecationPlugin)
  await app.register(dbPlugin, {
    database,
    readReplicas: {
      urls: config.DATABASE_READ_URLS,
      waitMs: config.READ_CONSISTENCY_WAIT_MS,
      poolMax: config.DB_POOL_MAX,
      connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS
    }
  })
  await app.register(readConsistencyPlugin)
  // An allow-list entry that is not a CIDR or an address stops the boot.
  const allowedCidrs = parseCidrList(config.WEBHOOK_ALLOWED_CIDRS)
  await app.register(servicesPlugin, {
    exportTimeoutMs: config.EXPORT_TIMEOUT_MS,
    exportBatchRows: config.EXPORT_BATCH_ROWS,
    importTimeoutMs: config.IMPORT_TIMEOUT_MS,
    webhooks: {
      allowedCidrs,
      maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
      retryDelaySeconds: config.WEBHOOK_RETRY_DELAY_SECONDS,
      attemptTimeoutMs: config.WEBHOOK_TIMEOUT_MS
    }
  })
  // Before any route, so that every route's requests are counted (the /metrics route itself is in metaRoutes).
  await app.register(metricsPlugin, { token: config.METRICS_TOKEN })
  await app.register(authPlugin, { readRequiresKey: config.READ_REQUIRES_KEY })
  // After auth, which identifies the key to count against; awaited before any route, so that none escapes it.
  await app.register(rateLimitPlugin, {
    perKey: config.RATE_LIMIT_PER_KEY,
    perIp: config.RATE_LIMIT_PER_IP,
    windowSeconds: config.RATE_LIMIT_WINDOW_SECONDS,
    redisUrl: config.REDIS_URL,
    redisKeyPrefix: config.REDIS_KEY_PREFIX
  })
  await app.register(requestGuardsPlugin)
  await app.register(idempotencyPlugin)
  await app.register(changeReasonPlugin)
  // NDJSON is text, but mime-db does not call it compressible.
  await app.register(compress, { threshold: 1024, encodings: ['br', 'gzip'], customTypes: /^application\/x-ndjson/ })
  await app.register(swaggerPlugin)
  if (config.WEBHOOKS_ENABLED) {
    await app.register(webhooksPlugin, { allowedCidrs, timeoutMs: config.WEBHOOK_TIMEOUT_MS, pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS })
  }

  await app.register(metaRoutes)
  await app.register(eventsRoutes, { prefix: '/v1/events', exportTimeoutMs: config.EXPORT_TIMEOUT_MS })
  await app.register(companiesRoutes, { prefix: '/v1/companies' })
  await app.register(regionsRoutes, { prefix: '/v1/regions' })
  await app.register(statusRoutes, { prefix: '/v1/status' })
  await app.register(changesRoutes, { prefix: '/v1/changes' })
  await app.register(sourcesRoutes, { prefix: '/v1/sources' })
  await app.register(apiKeysRoutes, { prefix: '/v1/api-keys' })
  await app.register(webhooksRoutes, { prefix: '/v1/webhooks' })
  await app.register(importsRoutes, { prefix: '/v1/imports', bodyLimit: config.IMPORT_BODY_LIMIT_BYTES, timeoutMs: config.IMPORT_TIMEOUT_MS })

  return app
}
export type App = Awaited<ReturnType<typeof buildApp>>
