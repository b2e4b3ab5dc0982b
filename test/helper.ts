import type { Test } from 'tap'
import { buildApp, type App } from '../src/app.js'
import { loadConfig, type Config } from '../src/config.js'
import type { Scope } from '../src/services/api-keys.js'
import { SYSTEM_ACTOR } from '../src/services/revisions.js'
import type { Company, CompanyCreate } from '../src/schemas/companies.js'
import type { Event, EventCreate } from '../src/schemas/events.js'
import { freshDatabase } from './database.js'

/** The configuration of a test app: the defaults, plus what a test sets. */
export function testConfig (env: Record<string, string> = {}): Config {
  // Limits high enough that no test meets them by accident; the rate-limit tests set their own. No load shedding
  // either (the overload tests turn it on): on PGlite a long query blocks this process's event loop, which is the
  // test's, for a second or more, and the next request would be shed.
  // Webhook workers stay off unless a test turns them on, so that other tests start no job queue.
  return loadConfig({
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_KEY: '100000',
    RATE_LIMIT_PER_IP: '100000',
    OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: '0',
    WEBHOOKS_ENABLED: 'false',
    ...env
  })
}

/** An app on a fresh database of its own, closed and dropped when the test ends. */
export async function buildTestApp (t: Test, env: Record<string, string> = {}): Promise<App> {
  const { database, drop } = await freshDatabase()
  const app = await buildApp(testConfig(env), { database, logger: false })
  t.teardown(async () => {
    await app.close()
    await drop()
  })
  return app
}

/** An `Authorization` header for a new key with these scopes. */
export async function authHeader (app: App, scopes: Scope[] = ['read', 'write'], name = `key-${scopes.join('-')}-${Math.random()}`) {
  const { key } = await app.services.apiKeys.create(name, scopes)
  return { authorization: `Bearer ${key}` }
}

let counter = 0

export async function createCompany (app: App, overrides: Partial<CompanyCreate> = {}): Promise<Company> {
  return app.services.companies.create({ name: `Company ${++counter}`, ...overrides }, SYSTEM_ACTOR)
}

export async function createEvent (app: App, overrides: Partial<EventCreate> = {}): Promise<Event> {
  const companyId = overrides.company_id ?? (await createCompany(app)).id
  return app.services.events.create({
    company_id: companyId,
    region: 'RU',
    service: 'All operations',
    action: 'exit',
    date: '2022-03-08',
    sources: [{ url: `https://news.example.com/${++counter}` }],
    ...overrides
  }, SYSTEM_ACTOR)
}
