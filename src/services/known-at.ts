import { sql } from 'drizzle-orm'
import type { Db, Executor } from '../db/client.js'
import { joinTransaction } from '../db/ambient.js'

const EVENT_COLUMNS = sql.raw(`id, company_id, region, service, action, date, date_precision, effective_date, summary, external_id,
  created_at, updated_at, version`)
const COMPANY_COLUMNS = sql.raw('id, name, aliases, country, sector, lei, wikidata_id, website, created_at, updated_at, version')

/** The latest recorded state of each resource of a type at a moment, skipping those whose latest change deleted them. */
const knownRows = (resourceType: 'event' | 'company', knownAt: string) => sql`
  SELECT data FROM (
    SELECT DISTINCT ON (resource_id) operation, data FROM revisions
    WHERE resource_type = ${resourceType} AND occurred_at <= ${knownAt}::timestamptz
    ORDER BY resource_id, version DESC) latest
  WHERE operation <> 'deleted'`

/**
 * Shadows the events and companies tables, for one transaction, with what the history says was recorded at a moment.
 * Temporary tables come first on the search path, so every query of the services reads them unchanged.
 */
async function shadowTables (tx: Executor, knownAt: string): Promise<void> {
  await tx.execute(sql`CREATE TEMP TABLE events (LIKE public.events INCLUDING DEFAULTS INCLUDING GENERATED) ON COMMIT DROP`)
  await tx.execute(sql`ALTER TABLE pg_temp.events ADD COLUMN snapshot jsonb`)
  await tx.execute(sql`INSERT INTO pg_temp.events (${EVENT_COLUMNS}, snapshot)
    SELECT ${EVENT_COLUMNS}, data FROM (${knownRows('event', knownAt)}) k, jsonb_populate_record(NULL::public.events, k.data)`)
  await tx.execute(sql`CREATE INDEX ON pg_temp.events (company_id, region, service, date, created_at, id)`)
  await tx.execute(sql`CREATE INDEX ON pg_temp.events (date, id)`)
  await tx.execute(sql`CREATE TEMP TABLE companies (LIKE public.companies INCLUDING DEFAULTS) ON COMMIT DROP`)
  await tx.execute(sql`INSERT INTO pg_temp.companies (${COMPANY_COLUMNS}, name_search)
    SELECT ${COMPANY_COLUMNS}, fold_text(array_to_string(name || aliases, chr(31)))
    FROM (${knownRows('company', knownAt)}) k, jsonb_populate_record(NULL::public.companies, k.data)`)
  await tx.execute(sql`CREATE INDEX ON pg_temp.companies (id)`)
  // Temporary tables are never analysed by autovacuum; without statistics the planner guesses badly.
  await tx.execute(sql`ANALYZE pg_temp.events`)
  await tx.execute(sql`ANALYZE pg_temp.companies`)
}

export function createKnownAtService ({ db }: { db: Db }) {
  return {
    /**
     * Runs a read as of what was recorded at `knownAt` (a bitemporal query: `as_of` is when things happened,
     * `known_at` what we knew). Rebuilding the state costs a pass over the history, so it suits questions
     * about the record, not a hot path.
     */
    async run<T> (knownAt: string, read: () => Promise<T>): Promise<T> {
      return db.transaction(async (tx) => {
        await shadowTables(tx, knownAt)
        return joinTransaction(tx, read)
      })
    }
  }
}
export type KnownAtService = ReturnType<typeof createKnownAtService>
