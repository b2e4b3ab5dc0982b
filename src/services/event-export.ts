import { PassThrough, Readable, Transform, pipeline } from 'node:stream'
import { stringify } from 'csv-stringify'
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm'
import { PgDialect, type AnyPgColumn } from 'drizzle-orm/pg-core'
import type pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { COPY_NULL as NULL, copyField, copyRowsTo, type CopyRowFormat } from '../domain/copy-text.js'
import { FORMULA_STARTS, neutraliseFormula } from '../domain/export-formats.js'
import { toRfc3339 } from '../domain/time.js'
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

const sortOf = (query: ExportQuery) => {
  const sort = query.sort ?? '-date'
  const direction = sort.startsWith('-') ? desc : asc
  const column = { date: events.date, created_at: events.createdAt, updated_at: events.updatedAt }[sort.replace('-', '') as 'date']
  return [direction(column), direction(events.id)]
}

/**
 * The CSV export in one query, so that Postgres joins the sources of every event at once (a hash join) instead of
 * once per event, and builds each record's cells itself.
 */
function csvSelect (query: ExportQuery): SQL {
  const cited = sql`(SELECT ${eventSources.eventId} AS event_id, count(*)::int AS n, string_agg(${sources.url}, ' ' ORDER BY ${eventSources.position}) AS urls
    FROM ${eventSources} JOIN ${sources} ON ${sources.id} = ${eventSources.sourceId} GROUP BY ${eventSources.eventId}) cited`
  return sql`SELECT ${cell(events.id)} AS id, ${cell(events.companyId)} AS company_id, ${cell(companies.name)} AS company_name,
      ${cell(events.region)} AS region, ${cell(events.service)} AS service, ${cell(events.action)} AS action, ${cell(events.date)} AS date,
      ${cell(events.datePrecision)} AS date_precision, ${cell(events.effectiveDate)} AS effective_date, ${cell(events.summary)} AS summary,
      ${cell(events.externalId)} AS external_id, coalesce(cited.n, 0) AS source_count, ${cell(sql`cited.urls`)} AS source_urls,
      ${cell(rfc3339(events.createdAt))} AS created_at, ${cell(rfc3339(events.updatedAt))} AS updated_at, ${events.version} AS version
    FROM ${events} JOIN ${companies} ON ${eq(companies.id, events.companyId)} LEFT JOIN ${cited} ON cited.event_id = ${events.id}
    WHERE ${and(...eventFilterConditions(query))}
    ORDER BY ${sql.join(sortOf(query), sql`, `)}`
}

/**
 * The NDJSON export's rows: one per citation (one for an event that cites nothing), an event's rows one after the
 * other in citation order, its columns as they are. Node makes the lines (ndjsonLines): Postgres building each
 * event's JSON took most of the export's time (15.8 s for a million events, against 5.6 s for these rows).
 */
function ndjsonSelect (query: ExportQuery): SQL {
  return sql`SELECT ${events.id}, ${events.companyId}, ${companies.name}, ${events.region}, ${events.service}, ${events.action},
      ${events.date}, ${events.datePrecision}, ${events.effectiveDate}, ${events.summary}, ${events.externalId}, ${events.createdAt},
      ${events.updatedAt}, ${events.version}, ${sources.url}, ${sources.publisher}, ${sources.title}, ${sources.publishedDate},
      ${sources.language}, ${eventSources.quote}, ${sources.kind}, ${sources.archivedUrl}, ${sources.license}
    FROM ${events} JOIN ${companies} ON ${eq(companies.id, events.companyId)}
      LEFT JOIN ${eventSources} ON ${eq(eventSources.eventId, events.id)} LEFT JOIN ${sources} ON ${eq(sources.id, eventSources.sourceId)}
    WHERE ${and(...eventFilterConditions(query))}
    ORDER BY ${sql.join(sortOf(query), sql`, `)}, ${eventSources.position}`
}

/** A field of a COPY text row as a JSON value: a string, or null. */
function jsonOf (raw: string): string {
  const value = copyField(raw)
  return value === null ? 'null' : JSON.stringify(value)
}

/**
 * NDJSON lines, an Event each as `GET /v1/events/{id}` shows it, from the rows of ndjsonSelect as COPY writes them.
 * Written out field by field (ids, versions and timestamps need no escaping): a third faster than JSON.stringify of
 * objects, which was most of the export's time in Node.
 */
export function ndjsonLines (): CopyRowFormat {
  let id: string | undefined
  let head = ''
  let tail = ''
  let cited: string[] = []
  const line = () => id === undefined ? '' : `${head},"sources":[${cited.join(',')}],"source_count":${cited.length},${tail}\n`
  return {
    row (raw) {
      const [eventId, companyId, companyName, region, service, action, date, datePrecision, effectiveDate, summary, externalId,
        createdAt, updatedAt, version, url, publisher, title, publishedDate, language, quote, kind, archivedUrl, license] = raw as Row
      let out = ''
      if (eventId !== id) {
        out = line()
        id = eventId
        cited = []
        head = `{"id":"${id}","company_id":"${companyId}","company":{"id":"${companyId}","name":${jsonOf(companyName)}},` +
          `"region":${jsonOf(region)},"service":${jsonOf(service)},"action":${jsonOf(action)},"date":${jsonOf(date)},` +
          `"date_precision":${jsonOf(datePrecision)},"effective_date":${jsonOf(effectiveDate)},"summary":${jsonOf(summary)}`
        tail = `"external_id":${jsonOf(externalId)},"created_at":"${toRfc3339(createdAt)}","updated_at":"${toRfc3339(updatedAt)}",` +
          `"version":${version}}`
      }
      if (url !== NULL) {
        cited.push(`{"url":${jsonOf(url)},"publisher":${jsonOf(publisher)},"title":${jsonOf(title)},` +
          `"published_date":${jsonOf(publishedDate)},"language":${jsonOf(language)},"quote":${jsonOf(quote)},"kind":${jsonOf(kind)},` +
          `"archived_url":${jsonOf(archivedUrl)},"license":${jsonOf(license)}}`)
      }
      return out
    },
    end: line
  }
}
type Row = [string, string, string, string, string, string, string, string, string, string, string, string, string, string,
  string, string, string, string, string, string, string, string, string]

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
   * Streams the export query's rows as PostgreSQL writes them with COPY, at the pace the client reads: CSV records
   * go to the client as Postgres built them, NDJSON rows become lines on the way (ndjsonLines). Resolves once the
   * first bytes came, so that a failing query is still an error reply.
   */
  async function copied (pool: pg.Pool, select: SQL, format: ExportFormat): Promise<Readable> {
    // COPY takes no parameters: the filters' values are inlined as literals (standard strings: quotes doubled).
    const query = dialect.sqlToQuery(select.inlineParams()).sql
    // CSV is PostgreSQL's own RFC 4180 quoting; NDJSON rows come in the text format, which ndjsonLines reads.
    const copy = `COPY (${query}) TO STDOUT WITH (FORMAT ${format === 'ndjson' ? 'text' : 'csv'})`
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
        "SET LOCAL enable_nestloop = off; SET LOCAL standard_conforming_strings = on; SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'")
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
    else pipeline(rows, copyRowsTo(ndjsonLines()), body, finished)
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
      return pool ? copied(pool, format === 'ndjson' ? ndjsonSelect(query) : csvSelect(query), format) : pagedBatches(query, format)
    }
  }
}
export type EventExportService = ReturnType<typeof createEventExportService>
