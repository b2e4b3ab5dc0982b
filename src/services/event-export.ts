import { PassThrough, Readable, Transform, pipeline } from 'node:stream'
import { stringify } from 'csv-stringify'
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm'
import { PgDialect, type AnyPgColumn } from 'drizzle-orm/pg-core'
import type pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { FORMULA_STARTS, neutraliseFormula } from '../domain/export-formats.js'
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
/** A CSV text cell as neutraliseFormula makes it, in SQL (the export inlines the characters as literals). */
const cell = (value: SQL | AnyPgColumn) =>
  sql`(CASE WHEN left(${value}::text, 1) IN (${sql.join(FORMULA_STARTS.map((c) => sql`${c}`), sql`, `)}) THEN '''' || ${value}::text ELSE ${value}::text END)`

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
        // Records go through row_to_json first: json_agg of records puts a line feed between them, which would end the line.
        ? sql`json_agg(row_to_json((SELECT source FROM (SELECT ${sources.url} AS url, ${sources.publisher} AS publisher, ${sources.title} AS title,
          ${sources.publishedDate} AS published_date, ${sources.language} AS language, ${eventSources.quote} AS quote, ${sources.kind} AS kind,
          ${sources.archivedUrl} AS archived_url, ${sources.license} AS license) source)) ORDER BY ${eventSources.position})`
        : sql`NULL::json`} AS list
    FROM ${eventSources} JOIN ${sources} ON ${sources.id} = ${eventSources.sourceId} GROUP BY ${eventSources.eventId}) cited`
  // A row's JSON from a row of named columns (row_to_json): about half the cost of json_build_object's key-value pairs.
  const columns = format === 'ndjson'
    ? sql`(SELECT row_to_json(event) FROM (SELECT ${events.id} AS id, ${events.companyId} AS company_id,
        (SELECT company FROM (SELECT ${events.companyId} AS id, ${companies.name} AS name) company) AS company,
        ${events.region} AS region, ${events.service} AS service, ${events.action} AS action, ${events.date} AS date,
        ${events.datePrecision} AS date_precision, ${events.effectiveDate} AS effective_date, ${events.summary} AS summary,
        coalesce(cited.list, '[]'::json) AS sources, coalesce(cited.n, 0) AS source_count, ${events.externalId} AS external_id,
        ${rfc3339(events.createdAt)} AS created_at, ${rfc3339(events.updatedAt)} AS updated_at, ${events.version} AS version) event)::text AS line`
    : sql`${cell(events.id)} AS id, ${cell(events.companyId)} AS company_id, ${cell(companies.name)} AS company_name, ${cell(events.region)} AS region,
        ${cell(events.service)} AS service, ${cell(events.action)} AS action, ${cell(events.date)} AS date, ${cell(events.datePrecision)} AS date_precision,
        ${cell(events.effectiveDate)} AS effective_date, ${cell(events.summary)} AS summary, ${cell(events.externalId)} AS external_id,
        coalesce(cited.n, 0) AS source_count, ${cell(sql`cited.urls`)} AS source_urls, ${cell(rfc3339(events.createdAt))} AS created_at,
        ${cell(rfc3339(events.updatedAt))} AS updated_at, ${events.version} AS version`
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

/** `batchRows`: events read at a time where the export pages through the list (PGlite), which bounds its memory. */
export interface ExportOptions { timeoutMs: number, batchRows: number }

const dialect = new PgDialect({ casing: 'snake_case' })
const CRLF = Buffer.from('\r\n')
const QUOTE = 0x22
const LINE_FEED = 0x0a

/** PostgreSQL's CSV ends records with LF, RFC 4180 with CRLF: a line feed outside quotes ends a record. */
function crlfRecords (): Transform {
  let quoted = false
  return new Transform({
    transform (chunk: Buffer, _encoding, done) {
      const parts: Buffer[] = []
      let start = 0
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i]
        if (byte === QUOTE) quoted = !quoted
        else if (byte === LINE_FEED && !quoted) {
          parts.push(chunk.subarray(start, i), CRLF)
          start = i + 1
        }
      }
      parts.push(chunk.subarray(start))
      done(null, Buffer.concat(parts))
    }
  })
}

export function createEventExportService ({ pool, events: eventService, options }: { pool?: pg.Pool | undefined, events: EventService, options: ExportOptions }) {
  /**
   * Streams the export query's rows as PostgreSQL writes them with COPY: Postgres builds each NDJSON line or CSV
   * record, and the bytes go to the client without being parsed into rows, at the pace the client reads. Resolves
   * once the first bytes came, so that a failing query is still an error reply.
   */
  async function copied (pool: pg.Pool, select: SQL, format: ExportFormat): Promise<Readable> {
    // COPY takes no parameters: the filters' values are inlined as literals (standard strings: quotes doubled).
    const query = dialect.sqlToQuery(select.inlineParams()).sql
    // One column of JSON, whose strings escape every control character: with a quote and a delimiter that JSON never
    // holds unescaped, CSV mode writes each line as it is. CSV is PostgreSQL's own RFC 4180 quoting.
    const copy = format === 'ndjson'
      ? `COPY (${query}) TO STDOUT WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')`
      : `COPY (${query}) TO STDOUT WITH (FORMAT csv)`
    const client = await pool.connect()
    let released = false
    const release = (err?: Error) => {
      if (released) return
      released = true
      // A COPY cut short leaves the connection mid-protocol: it is closed, which ends the statement too.
      client.release(err ?? false)
    }
    const timeout = Math.trunc(options.timeoutMs)
    try {
      // The export's own bound replaces the request one; a nested loop never pays when every row is read, and with
      // statistics not yet gathered (a table just loaded) the planner chose one and the export went quadratic.
      await client.query(`BEGIN; SET LOCAL statement_timeout = ${timeout}; SET LOCAL work_mem = '128MB'; ` +
        'SET LOCAL enable_nestloop = off; SET LOCAL standard_conforming_strings = on')
    } catch (err) {
      release(err as Error)
      throw err
    }
    // pg's read timeout is the request one (the statement timeout and a second): it would cut a long COPY short. pg
    // clears it through the query's callback, which pg-copy-streams never calls: left running, the timer would keep the
    // process alive, then fail the finished stream; so the stream calls it once it is closed.
    const rows: Readable & { callback?: () => void } = client.query(Object.assign(copyTo(copy), { query_timeout: timeout + 1000 }))
    rows.once('close', () => rows.callback?.())
    const body = new PassThrough()
    if (format === 'csv') body.write(CSV_COLUMNS.join(',') + '\r\n')
    const finished = (err: Error | null) => {
      if (err) return release(err)
      client.query('COMMIT').then(() => release(), (failed: Error) => release(failed))
    }
    if (format === 'csv') pipeline(rows, crlfRecords(), body, finished)
    else pipeline(rows, body, finished)
    await new Promise<void>((resolve, reject) => {
      rows.once('data', () => resolve())
      rows.once('end', () => resolve())
      rows.once('error', reject)
    }).catch((err: unknown) => {
      body.destroy()
      throw err
    })
    return body
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
      return pool ? copied(pool, exportSelect(query, format), format) : pagedBatches(query, format)
    }
  }
}
export type EventExportService = ReturnType<typeof createEventExportService>
