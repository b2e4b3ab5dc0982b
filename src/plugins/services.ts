import fp from 'fastify-plugin'
import { createApiKeyService, type ApiKeyService } from '../services/api-keys.js'
import { createCompanyService, type CompanyService } from '../services/companies.js'
import { createEventService, type EventService } from '../services/events.js'
import { createHealthService, type HealthService } from '../services/health.js'
import { createRegionService, type RegionService } from '../services/regions.js'

export interface Services {
  apiKeys: ApiKeyService
  companies: CompanyService
  events: EventService
  health: HealthService
  regions: RegionService
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services
  }
}

export default fp(async (app) => {
  const { db } = app
  app.decorate('services', {
    apiKeys: createApiKeyService({ db }),
    companies: createCompanyService({ db }),
    events: createEventService({ db }),
    health: createHealthService({ db }),
    regions: createRegionService({ db })
  } satisfies Services)
}, { name: 'services', dependencies: ['db'] })
