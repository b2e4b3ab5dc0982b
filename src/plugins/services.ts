import fp from 'fastify-plugin'
import { ambientDb } from '../db/ambient.js'
import { createApiKeyService, type ApiKeyService } from '../services/api-keys.js'
import { createChangeService, type ChangeService } from '../services/changes.js'
import { createCompanyService, type CompanyService } from '../services/companies.js'
import { createCompanyMatchService, type CompanyMatchService } from '../services/company-match.js'
import { createEventStatsService, type EventStatsService } from '../services/event-stats.js'
import { createEventExportService, type EventExportService } from '../services/event-export.js'
import { createEventService, type EventService } from '../services/events.js'
import { createKnownAtService, type KnownAtService } from '../services/known-at.js'
import { createIdempotencyService, type IdempotencyService } from '../services/idempotency.js'
import { createImportService, type ImportService } from '../services/imports.js'
import { createHealthService, type HealthService } from '../services/health.js'
import { createPostureService, type PostureService } from '../services/postures.js'
import { createRevisionService, type RevisionService } from '../services/revisions.js'
import { createSourceService, type SourceService } from '../services/sources.js'
import { createRegionService, type RegionService } from '../services/regions.js'
import { createWebhookDispatchService, type WebhookDispatchService } from '../services/webhook-dispatch.js'
import { createWebhookService, type WebhookService } from '../services/webhooks.js'
import { createJobQueue } from '../db/job-queue.js'
import type { Cidr } from '../domain/addresses.js'
import { createDeliveryQueue, type RetryPolicy } from '../webhooks/queue.js'

export interface Services {
  apiKeys: ApiKeyService
  changes: ChangeService
  companies: CompanyService
  companyMatch: CompanyMatchService
  events: EventService
  eventExport: EventExportService
  eventStats: EventStatsService
  health: HealthService
  idempotency: IdempotencyService
  imports: ImportService
  knownAt: KnownAtService
  postures: PostureService
  regions: RegionService
  revisions: RevisionService
  sources: SourceService
  webhooks: WebhookService
  webhookDispatch: WebhookDispatchService
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

export interface ServicesOptions {
  exportTimeoutMs: number
  exportBatchRows: number
  importTimeoutMs: number
  webhooks: RetryPolicy & { allowedCidrs: Cidr[] }
}

export default fp<ServicesOptions>(async (app, { exportTimeoutMs, exportBatchRows, importTimeoutMs, webhooks }) => {
  // Services join a request's transaction when there is one (see plugins/idempotency.ts).
  const db = ambientDb(app.db)
  const companies = createCompanyService({ db })
  const events = createEventService({ db })
  const changes = createChangeService({ db })
  // Only sends jobs (in the caller's transaction); the instance that works them is plugins/webhooks.ts's.
  const deliveryQueue = createDeliveryQueue(createJobQueue(app.database), webhooks)
  app.decorate('services', {
    apiKeys: createApiKeyService({ db }),
    changes,
    companies,
    companyMatch: createCompanyMatchService({ db }),
    events,
    eventExport: createEventExportService({
      // PostgreSQL streams an export with COPY; PGlite pages through the list, since its one connection would be held.
      pool: app.database.pool,
      events,
      options: { timeoutMs: exportTimeoutMs, batchRows: exportBatchRows }
    }),
    eventStats: createEventStatsService({ db }),
    health: createHealthService({ db: app.db, jobQueue: createJobQueue(app.database) }),
    idempotency: createIdempotencyService({ db }),
    imports: createImportService({ db, database: app.database, timeoutMs: importTimeoutMs }),
    knownAt: createKnownAtService({ db }),
    postures: createPostureService({ db, companies, events }),
    regions: createRegionService({ db }),
    revisions: createRevisionService({ db }),
    sources: createSourceService({ db }),
    webhooks: createWebhookService({ db, queue: deliveryQueue, allowedCidrs: webhooks.allowedCidrs }),
    webhookDispatch: createWebhookDispatchService({ db: app.db, changes, queue: deliveryQueue })
  } satisfies Services)
}, { name: 'services', dependencies: ['db'] })
