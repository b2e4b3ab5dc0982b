import { Readable, pipeline } from 'node:stream'
import { stringify } from 'csv-stringify'
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm'
import type { AnyPgColumn } from 'drizzle-orm/pg-core'
import { queryRows, type Db } from '../db/client.js'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { neutraliseFormula } from '../domain/export-formats.js'
import type { Event, EventList, EventListQuery } from '../schemas/events.js'
import { eventFilterConditions } from './event-filters.js'
import type { EventService } from './events.js'

/** The CSV export's columns, fixed and in this order; lists are space-separated (URLs hold no spaces). */
export const CSV_COLUMNS = [
  'id', 'company_id', 'company_name', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date',
  'summary', 'external_id', 'source_count', 'source_urls', 'created_at', 'updated_at', 'version'
] as const
type CsvRecord = Record<typeof CSV_COLUMNS[number], string | number | null>

export type ExportQuery = Omit<EventListQuery, 'limit' | 'cursor'>
export type ExportFormat = 'csv' | 'ndjson'

function csvRecord (e: Event): CsvRecord {
  return {
    id: e.id,
    company_id: e.company_id,
    company_name: e.company.name,
    region: e.region,
    service: e.service,
    action: e.action,
    date: e.date,
    date_precision: e.date_precision,
    effective_date: e.effective_date,
    summary: e.summary,
    external_id: e.external_id,
    source_count: e.source_count,
    source_urls: e.sources.map((s) => s.url).join(' '),
    created_at: e.created_at,
    updated_at: e.updated_at,
    version: e.version
  }
}

const rfc3339 = (column: SQL | AnyPgColumn) => sql`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/**
 * One query for the whole export, so that Postgres joins the sources of every event at once (a hash join)
 * instead of once per event; it builds each NDJSON line, or each CSV record's cells, itself.
 */
function exportSelect (query: ExportQuery, format: ExportFormat): SQL {
  const sort = query.sort ?? '-date'
  const direction = sort.startsWith('-') ? desc : asc
  const sortColumn = { date: events.date, created_at: events.createdAt, updated_at: events.updatedAt }[sort.replace('-', '') as 'date']
  const cited = sql`(SELECT ${eventSources.eventId} AS event_id, count(*)::int AS n,
      string_agg(${sources.url}, ' ' ORDER BY ${eventSources.position}) AS urls,
      ${format === 'ndjson'
        ? sql`json_agg(json_build_object('url', ${sources.url}, 'publisher', ${sources.publisher}, 'title', ${sources.title},
          'published_date', ${sources.publishedDate}, 'language', ${sources.language}, 'quote', ${eventSources.quote}, 'kind', ${sources.kind},
          'archived_url', ${sources.archivedUrl}, 'license', ${sources.license}) ORDER BY ${eventSources.position})`
        : sql`NULL::json`} AS list
    FROM ${eventSources} JOIN ${sources} ON ${sources.id} = ${eventSources.sourceId} GROUP BY ${eventSources.eventId}) cited`
  const columns = format === 'ndjson'
    ? sql`json_build_object('id', ${events.id}, 'company_id', ${events.companyId}, 'company', json_build_object('id', ${events.companyId}, 'name', ${companies.name}),
        'region', ${events.region}, 'service', ${events.service}, 'action', ${events.action}, 'date', ${events.date},
        'date_precision', ${events.datePrecision}, 'effective_date', ${events.effectiveDate}, 'summary', ${events.summary},
        'sources', coalesce(cited.list, '[]'::json), 'source_count', coalesce(cited.n, 0), 'external_id', ${events.externalId},
        'created_at', ${rfc3339(events.createdAt)}, 'updated_at', ${rfc3339(events.updatedAt)}, 'version', ${events.version})::text AS line`
    : sql`${events.id} AS id, ${events.companyId} AS company_id, ${companies.name} AS company_name, ${events.region} AS region,
        ${events.service} AS service, ${events.action} AS action, ${events.date}::text AS date, ${events.datePrecision} AS date_precision,
        ${events.effectiveDate}::text AS effective_date, ${events.summary} AS summary, ${events.externalId} AS external_id,
        coalesce(cited.n, 0) AS source_count, coalesce(cited.urls, '') AS source_urls, ${rfc3339(events.createdAt)} AS created_at,
        ${rfc3339(events.updatedAt)} AS updated_at, ${events.version} AS version`
  return sql`SELECT ${columns}
    FROM ${events} JOIN ${companies} ON ${eq(companies.id, events.companyId)} LEFT JOIN ${cited} ON cited.event_id = ${events.id}
    WHERE ${and(...eventFilterConditions(query))}
    ORDER BY ${direction(sortColumn)}, ${direction(events.id)}`
}

/** Formats batches of rows (NDJSON lines, or CSV records) as the bytes of the export. */
function encode (batches: Readable, format: ExportFormat): Readable {
  if (format === 'ndjson') {
    return batches.map((lines: string[]) => lines.join('\n') + '\n')
  }
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows', cast: { string: neutraliseFormula } })
  // pipeline, not pipe: a client that goes away destroys the whole chain, which ends the database cursor too.
  pipeline(batches.flatMap((batch: CsvRecord[]) => batch), csv, () => {})
  return csv
}

/** `batchRows`: rows read from the database at a time, which bounds the export's memory. */
export interface ExportOptions { timeoutMs: number, batchRows: number, cursor: boolean }

export function createEventExportService ({ db, events: eventService, options }: { db: Db, events: EventService, options: ExportOptions }) {
  /**
   * Runs the export query under a cursor in one transaction, a batch at a time, pausing while the client is
   * slower than the database. Resolves once the first batch is read, so that a failing query is still an error reply.
   */
  function cursorBatches (select: SQL, format: ExportFormat): Promise<Readable> {
    let wake = () => {}
    const batches = new Readable({ objectMode: true, highWaterMark: 2, read () { wake() } })
    batches.on('close', () => wake())
    return new Promise((resolve, reject) => {
      let started = false
      db.transaction(async (tx) => {
        // The export's own bounds replace the request ones: one long statement, and idle time while the client reads.
        const timeout = String(Math.trunc(options.timeoutMs))
        await tx.execute(sql.raw(`SET LOCAL statement_timeout = ${timeout}`))
        await tx.execute(sql.raw(`SET LOCAL idle_in_transaction_session_timeout = ${timeout}`))
        // A cursor plans for the first rows by default; an export wants all of them, fast.
        await tx.execute(sql.raw('SET LOCAL cursor_tuple_fraction = 1'))
        await tx.execute(sql.raw("SET LOCAL work_mem = '128MB'"))
        // Every row is read, so a nested loop never pays; with statistics not yet gathered (a table just loaded,
        // autovacuum not run) the planner chose one over the sources aggregate and the export went quadratic.
        await tx.execute(sql.raw('SET LOCAL enable_nestloop = off'))
        await tx.execute(sql`DECLARE export_rows NO SCROLL CURSOR FOR ${select}`)
        for (;;) {
          const rows = await queryRows<Record<string, unknown>>(tx, sql.raw(`FETCH ${Math.trunc(options.batchRows)} FROM export_rows`))
          if (!started) {
            started = true
            resolve(encode(batches, format))
          }
          if (batches.destroyed) return
          if (rows.length === 0) break
          const more = batches.push(format === 'ndjson' ? rows.map((r) => r.line) : rows)
          if (!more) await new Promise<void>((resolve) => { wake = resolve })
        }
        batches.push(null)
      }).catch((err: unknown) => {
        if (!started) reject(err)
        else batches.destroy(err as Error)
      })
    })
  }

  /** Every matching event, a page at a time along the list's keyset: for PGlite, whose one connection a cursor would hold. */
  async function pagedBatches (query: ExportQuery, format: ExportFormat): Promise<Readable> {
    const first = await eventService.list({ ...query, limit: options.batchRows })
    async function * pages (): AsyncGenerator<EventList['data']> {
      let page = first
      for (;;) {
        if (page.data.length > 0) yield page.data
        if (page.next_cursor === null) return
        page = await eventService.list({ ...query, limit: options.batchRows, cursor: page.next_cursor })
      }
    }
    const batches = Readable.from(pages()).map((batch: Event[]) => format === 'ndjson' ? batch.map((e) => JSON.stringify(e)) : batch.map(csvRecord))
    return encode(batches, format)
  }

  return {
    /**
     * A stream of every event matching the list's filters, in the list's order, as NDJSON (one Event per line) or
     * CSV (RFC 4180, a header row, CRLF). Memory stays flat: a batch is read only once the previous one is written.
     */
    async open (query: ExportQuery, format: ExportFormat): Promise<Readable> {
      return options.cursor ? cursorBatches(exportSelect(query, format), format) : pagedBatches(query, format)
    }
  }
}
export type EventExportService = ReturnType<typeof createEventExportService>
