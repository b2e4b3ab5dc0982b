import fp from 'fastify-plugin'
import { createApiKeyService, type ApiKeyService } from '../services/api-keys.js'
import { createChangeService, type ChangeService } from '../services/changes.js'
import { createCompanyService, type CompanyService } from '../services/companies.js'
import { createCompanyMatchService, type CompanyMatchService } from '../services/company-match.js'
import { createEventStatsService, type EventStatsService } from '../services/event-stats.js'
import { createEventService, type EventService } from '../services/events.js'
import { createHealthService, type HealthService } from '../services/health.js'
import { createPostureService, type PostureService } from '../services/postures.js'
import { createRegionService, type RegionService } from '../services/regions.js'

export interface Services {
  apiKeys: ApiKeyService
  changes: ChangeService
  companies: CompanyService
  companyMatch: CompanyMatchService
  events: EventService
  eventStats: EventStatsService
  health: HealthService
  postures: PostureService
  regions: RegionService
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

export default fp(async (app) => {
  const { db } = app
  const companies = createCompanyService({ db })
  const events = createEventService({ db })
  app.decorate('services', {
    apiKeys: createApiKeyService({ db }),
    changes: createChangeService({ db }),
    companies,
    companyMatch: createCompanyMatchService({ db }),
    events,
    eventStats: createEventStatsService({ db }),
    health: createHealthService({ db }),
    postures: createPostureService({ db, companies, events }),
    regions: createRegionService({ db })
  } satisfies Services)
}, { name: 'services', dependencies: ['db'] })
