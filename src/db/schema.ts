import { sql } from 'drizzle-orm'
import {
  check, customType, date, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, unique, uniqueIndex, uuid
} from 'drizzle-orm/pg-core'

/** Values that the CHECK constraints below and the API schemas both enforce. */
export const ACTIONS = ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume'] as const
export const DATE_PRECISIONS = ['day', 'month', 'year'] as const
export const SCOPES = ['read', 'write', 'admin'] as const
export const SOURCE_KINDS = ['company_statement', 'regulatory_filing', 'registry_record', 'media_report', 'dataset'] as const
export const IMPORT_STATUSES = ['queued', 'running', 'done', 'failed'] as const
export const IMPORT_MODES = ['atomic', 'partial'] as const

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' })
// A 64-bit transaction id, read and written as a decimal string.
const xid8 = customType<{ data: string }>({ dataType: () => 'xid8' })

// Microsecond UTC timestamps kept as strings, so that keyset cursors never lose precision to JS Dates.
const timestamps = {
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  updatedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow()
}
const live = sql`deleted_at IS NULL`
const inList = (column: string, values: readonly string[]) =>
  sql.raw(`${column} IN (${values.map((v) => `'${v}'`).join(', ')})`)

export const companies = pgTable('companies', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  aliases: text().array().notNull().default(sql`'{}'::text[]`),
  country: text(),
  sector: text(),
  lei: text(),
  wikidataId: text(),
  website: text(),
  // Case- and accent-folded name and aliases, kept by a trigger (see the custom migration).
  nameSearch: text().notNull().default(''),
  ...timestamps,
  version: integer().notNull().default(1),
  deletedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  uniqueIndex('companies_lei_live_key').on(t.lei).where(live),
  uniqueIndex('companies_wikidata_id_live_key').on(t.wikidataId).where(live),
  index('companies_name_keyset_idx').on(t.name, t.id).where(live),
  index('companies_created_keyset_idx').on(t.createdAt, t.id).where(live),
  index('companies_updated_keyset_idx').on(t.updatedAt, t.id).where(live),
  index('companies_name_search_trgm_idx').using('gin', sql`${t.nameSearch} gin_trgm_ops`).where(live),
  check('companies_name_length', sql`char_length(${t.name}) BETWEEN 1 AND 200`),
  check('companies_aliases_count', sql`cardinality(${t.aliases}) <= 50`),
  check('companies_country_format', sql`${t.country} ~ '^[A-Z]{2}$'`),
  check('companies_sector_length', sql`char_length(${t.sector}) <= 100`),
  check('companies_lei_format', sql`${t.lei} ~ '^[0-9A-Z]{18}[0-9]{2}$'`),
  check('companies_wikidata_id_format', sql`${t.wikidataId} ~ '^Q[1-9][0-9]*$'`),
  check('companies_website_format', sql`${t.website} ~* '^https?://'`),
  check('companies_version_positive', sql`${t.version} >= 1`)
])

export const events = pgTable('events', {
  id: uuid().primaryKey(),
  companyId: uuid().notNull(),
  region: text().notNull(),
  // The country part of the region, so that `region=UA` can use an index to match `UA-43`.
  regionCountry: text().notNull().generatedAlwaysAs(sql`split_part(region, '-', 1)`),
  service: text().notNull(),
  action: text({ enum: ACTIONS }).notNull(),
  date: date({ mode: 'string' }).notNull(),
  datePrecision: text({ enum: DATE_PRECISIONS }).notNull().default('day'),
  effectiveDate: date({ mode: 'string' }),
  summary: text(),
  externalId: text(),
  // Full-text document over company names, service, summary and sources (event_search_document()), written with the row.
  search: tsvector().notNull().default(sql`''::tsvector`),
  ...timestamps,
  version: integer().notNull().default(1),
  deletedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  foreignKey({ columns: [t.companyId], foreignColumns: [companies.id], name: 'events_company_id_fkey' }),
  uniqueIndex('events_external_id_live_key').on(t.externalId).where(live),
  index('events_date_keyset_idx').on(t.date, t.id).where(live),
  index('events_created_keyset_idx').on(t.createdAt, t.id).where(live),
  index('events_updated_keyset_idx').on(t.updatedAt, t.id).where(live),
  index('events_company_date_idx').on(t.companyId, t.date, t.id).where(live),
  index('events_region_date_idx').on(t.region, t.date, t.id).where(live),
  index('events_region_country_date_idx').on(t.regionCountry, t.date, t.id).where(live),
  index('events_action_date_idx').on(t.action, t.date, t.id).where(live),
  index('events_search_idx').using('gin', t.search).where(live),
  // Postures: the latest event per (company, region, service) on or before a date.
  index('events_posture_idx').on(t.companyId, t.region, t.service, t.date, t.createdAt, t.id).where(live),
  index('events_service_trgm_idx').using('gin', sql`lower(${t.service}) gin_trgm_ops`).where(live),
  check('events_region_format', sql`${t.region} ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'`),
  check('events_service_length', sql`char_length(${t.service}) BETWEEN 1 AND 200`),
  check('events_action_enum', inList('action', ACTIONS)),
  check('events_date_precision_enum', inList('date_precision', DATE_PRECISIONS)),
  check('events_date_precision_start', sql`(${t.datePrecision} = 'day')
    OR (${t.datePrecision} = 'month' AND extract(day FROM ${t.date}) = 1)
    OR (${t.datePrecision} = 'year' AND extract(day FROM ${t.date}) = 1 AND extract(month FROM ${t.date}) = 1)`),
  check('events_summary_length', sql`char_length(${t.summary}) <= 2000`),
  check('events_external_id_length', sql`char_length(${t.externalId}) BETWEEN 1 AND 200`),
  check('events_version_positive', sql`${t.version} >= 1`)
])

/**
 * Live events counted per month, region and action, kept by statement triggers on events (see the custom
 * migration), so that counts over wide date ranges add up a few thousand rows instead of scanning events.
 */
export const eventMonthCounts = pgTable('event_month_counts', {
  month: date({ mode: 'string' }).notNull(),
  region: text().notNull(),
  action: text().notNull(),
  events: integer().notNull()
}, (t) => [
  primaryKey({ columns: [t.month, t.region, t.action] }),
  check('event_month_counts_events_nonnegative', sql`${t.events} >= 0`)
])

/** Live events counted per year, region, action and the company's sector and country, kept like event_month_counts. */
export const eventYearCounts = pgTable('event_year_counts', {
  year: date({ mode: 'string' }).notNull(),
  region: text().notNull(),
  action: text().notNull(),
  sector: text(),
  country: text(),
  events: integer().notNull()
}, (t) => [
  unique('event_year_counts_key').on(t.year, t.region, t.action, t.sector, t.country).nullsNotDistinct(),
  check('event_year_counts_events_nonnegative', sql`${t.events} >= 0`)
])

/**
 * The same counts without the region and action, kept with event_year_counts: counts that filter on neither add up
 * a few thousand rows here instead of every region and action of every year there (160,000 at a million events).
 */
export const eventCompanyYearCounts = pgTable('event_company_year_counts', {
  year: date({ mode: 'string' }).notNull(),
  sector: text(),
  country: text(),
  events: integer().notNull()
}, (t) => [
  unique('event_company_year_counts_key').on(t.year, t.sector, t.country).nullsNotDistinct(),
  check('event_company_year_counts_events_nonnegative', sql`${t.events} >= 0`)
])

/** Every name and alias of every company with its matching key, kept by a trigger, for fuzzy search. */
export const companyNames = pgTable('company_names', {
  companyId: uuid().notNull(),
  position: integer().notNull(),
  kind: text({ enum: ['name', 'alias'] }).notNull(),
  name: text().notNull(),
  // name_key(name): folded, punctuation and legal-form words removed (see the custom migration).
  key: text().notNull()
}, (t) => [
  primaryKey({ columns: [t.companyId, t.position] }),
  foreignKey({ columns: [t.companyId], foreignColumns: [companies.id], name: 'company_names_company_id_fkey' }).onDelete('cascade'),
  index('company_names_key_trgm_idx').using('gin', sql`${t.key} gin_trgm_ops`),
  check('company_names_kind_enum', sql`kind IN ('name', 'alias')`)
])

export const sources = pgTable('sources', {
  id: uuid().primaryKey(),
  url: text().notNull(),
  publisher: text(),
  title: text(),
  publishedDate: date({ mode: 'string' }),
  language: text(),
  kind: text({ enum: SOURCE_KINDS }),
  archivedUrl: text(),
  // The terms the source is published under, to attribute it wherever it is served (e.g. a dataset's licence).
  license: text(),
  ...timestamps
}, (t) => [
  uniqueIndex('sources_url_key').on(t.url),
  check('sources_kind_enum', inList('kind', SOURCE_KINDS)),
  check('sources_archived_url_format', sql`${t.archivedUrl} ~* '^https?://' AND char_length(${t.archivedUrl}) <= 2048`),
  check('sources_license_length', sql`char_length(${t.license}) <= 200`),
  check('sources_url_format', sql`${t.url} ~ '^https?://' AND char_length(${t.url}) <= 2048`),
  check('sources_publisher_length', sql`char_length(${t.publisher}) <= 200`),
  check('sources_title_length', sql`char_length(${t.title}) <= 500`)
])

/** One row per (event, source): the quote is the passage of that source that supports that event. */
export const eventSources = pgTable('event_sources', {
  eventId: uuid().notNull(),
  sourceId: uuid().notNull(),
  position: integer().notNull(),
  quote: text()
}, (t) => [
  primaryKey({ columns: [t.eventId, t.sourceId] }),
  foreignKey({ columns: [t.eventId], foreignColumns: [events.id], name: 'event_sources_event_id_fkey' }).onDelete('cascade'),
  foreignKey({ columns: [t.sourceId], foreignColumns: [sources.id], name: 'event_sources_source_id_fkey' }),
  uniqueIndex('event_sources_event_position_key').on(t.eventId, t.position),
  index('event_sources_source_idx').on(t.sourceId),
  check('event_sources_position_range', sql`${t.position} BETWEEN 0 AND 19`),
  check('event_sources_quote_length', sql`char_length(${t.quote}) <= 2000`)
])

export const apiKeys = pgTable('api_keys', {
  id: uuid().primaryKey(),
  name: text().notNull(),
  // SHA-256 of the whole key, hex. Keys carry 256 random bits, so a fast hash is enough.
  keyHash: text().notNull(),
  prefix: text().notNull(),
  scopes: text().array().notNull(),
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  lastUsedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }),
  revokedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  uniqueIndex('api_keys_key_hash_key').on(t.keyHash),
  uniqueIndex('api_keys_name_active_key').on(t.name).where(sql`revoked_at IS NULL`),
  check('api_keys_name_length', sql`char_length(${t.name}) BETWEEN 1 AND 100`),
  check('api_keys_scopes_valid', sql`cardinality(${t.scopes}) >= 1 AND ${t.scopes} <@ ARRAY['read', 'write', 'admin']`)
])

/** Every write of an event or company, in the same transaction as the write itself. */
export const revisions = pgTable('revisions', {
  id: uuid().primaryKey(),
  resourceType: text({ enum: ['event', 'company'] }).notNull(),
  resourceId: uuid().notNull(),
  operation: text({ enum: ['created', 'updated', 'deleted', 'restored'] }).notNull(),
  version: integer().notNull(),
  data: jsonb().notNull(),
  apiKeyId: uuid(),
  occurredAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  // The writing transaction: the change feed orders by it and only shows transactions older than every open one.
  txid: xid8().notNull().default(sql`pg_current_xact_id()`),
  changeReason: text()
}, (t) => [
  foreignKey({ columns: [t.apiKeyId], foreignColumns: [apiKeys.id], name: 'revisions_api_key_id_fkey' }),
  index('revisions_resource_idx').on(t.resourceType, t.resourceId, t.version),
  index('revisions_feed_idx').on(t.txid, t.id),
  check('revisions_change_reason_length', sql`char_length(${t.changeReason}) <= 500`),
  check('revisions_resource_type_enum', sql`resource_type IN ('event', 'company')`),
  check('revisions_operation_enum', sql`operation IN ('created', 'updated', 'deleted', 'restored')`)
])

/**
 * The stored response of a POST sent with an Idempotency-Key, per API key, kept 24 hours.
 * The row is inserted in the same transaction as the write it guards, so a write and its stored response commit together.
 */
export const idempotencyKeys = pgTable('idempotency_keys', {
  apiKeyId: uuid().notNull().references(() => apiKeys.id),
  key: text().notNull(),
  // SHA-256 of the method, path and body, to tell a repeat from a different request under the same key.
  fingerprint: text().notNull(),
  responseStatus: integer(),
  responseHeaders: jsonb(),
  responseBody: jsonb(),
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow()
}, (t) => [
  primaryKey({ columns: [t.apiKeyId, t.key] }),
  index('idempotency_keys_created_at_idx').on(t.createdAt),
  check('idempotency_keys_key_length', sql`char_length(${t.key}) BETWEEN 1 AND 255`)
])

/** A partner's webhook endpoint and the changes it wants. */
export const webhookSubscriptions = pgTable('webhook_subscriptions', {
  id: uuid().primaryKey(),
  url: text().notNull(),
  // Kept in clear: every delivery is signed with it (HMAC), as Stripe and GitHub do.
  secret: text().notNull(),
  // { company_id?: uuid[], region?: string[], action?: string[] }; an absent list matches everything.
  filters: jsonb().notNull().default(sql`'{}'::jsonb`),
  apiKeyId: uuid().references(() => apiKeys.id),
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  deletedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  check('webhook_subscriptions_url_length', sql`char_length(${t.url}) BETWEEN 1 AND 2000`),
  check('webhook_subscriptions_url_scheme', sql`${t.url} ~* '^https?://'`),
  check('webhook_subscriptions_secret_length', sql`char_length(${t.secret}) BETWEEN 16 AND 200`)
])

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const

/** One change sent to one subscription: the delivery log, with its latest attempt. */
export const webhookDeliveries = pgTable('webhook_deliveries', {
  id: uuid().primaryKey(),
  subscriptionId: uuid().notNull().references(() => webhookSubscriptions.id),
  revisionId: uuid().notNull().references(() => revisions.id),
  status: text({ enum: DELIVERY_STATUSES }).notNull().default('pending'),
  attempts: integer().notNull().default(0),
  lastAttemptAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }),
  lastResponseStatus: integer(),
  lastError: text(),
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  deliveredAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  unique('webhook_deliveries_subscription_revision_key').on(t.subscriptionId, t.revisionId),
  index('webhook_deliveries_subscription_idx').on(t.subscriptionId, t.id),
  check('webhook_deliveries_status_enum', inList('status', DELIVERY_STATUSES))
])

/** How far the webhook dispatcher has read the change feed: one row, locked by the instance that dispatches. */
export const webhookDispatchCursor = pgTable('webhook_dispatch_cursor', {
  id: integer().primaryKey(),
  txid: xid8().notNull(),
  revisionId: uuid().notNull()
}, (t) => [
  check('webhook_dispatch_cursor_single_row', sql`${t.id} = 1`)
])

/** A bulk import: its input's format and mode, where it stands, and the outcome counts of its lines. */
export const imports = pgTable('imports', {
  id: uuid().primaryKey(),
  format: text().notNull(),
  mode: text({ enum: IMPORT_MODES }).notNull(),
  status: text({ enum: IMPORT_STATUSES }).notNull().default('queued'),
  apiKeyId: uuid().references(() => apiKeys.id),
  linesTotal: integer(),
  linesDone: integer().notNull().default(0),
  created: integer().notNull().default(0),
  updated: integer().notNull().default(0),
  unchanged: integer().notNull().default(0),
  rejected: integer().notNull().default(0),
  failure: text(),
  createdAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }).notNull().defaultNow(),
  startedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' }),
  finishedAt: timestamp({ withTimezone: true, precision: 6, mode: 'string' })
}, (t) => [
  check('imports_status_enum', inList('status', IMPORT_STATUSES)),
  check('imports_mode_enum', inList('mode', IMPORT_MODES)),
  check('imports_format_length', sql`char_length(${t.format}) BETWEEN 1 AND 50`)
])

/** Why an input line of an import was rejected (or, for duplicates, reported): one row per line and field. */
export const importErrors = pgTable('import_errors', {
  importId: uuid().notNull().references(() => imports.id),
  line: integer().notNull(),
  field: text().notNull(),
  message: text().notNull()
}, (t) => [
  index('import_errors_import_line_idx').on(t.importId, t.line)
])
