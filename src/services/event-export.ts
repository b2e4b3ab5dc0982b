import { PassThrough, Readable, pipeline } from 'node:stream'
import { stringify } from 'csv-stringify'
import { stringify as stringifyRecords } from 'csv-stringify/sync'
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import type pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { COPY_NULL, copyField, copyRowsTo, type CopyRowFormat } from '../domain/copy-text.js'
import { neutraliseFormula } from '../domain/export-formats.js'
import { toRfc3339 } from '../domain/time.js'
import type { Event, EventList, EventListQuery } from '../schemas/events.js'
import { eventFilterConditions } from './event-filters.js'
import type { EventService } from './events.js'

/** The CSV export's columns, fixed and in this order; URLs are space-separated (they hold no spaces), licences by `; `. */
export const CSV_COLUMNS = [
  'id', 'company_id', 'company_name', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date',
  'summary', 'external_id', 'source_count', 'source_urls', 'source_licenses', 'created_at', 'updated_at', 'version'
] as const
type CsvRecord = Record<typeof CSV_COLUMNS[number], string | number | null>

export type ExportQuery = Omit<EventListQuery, 'limit' | 'cursor'>
export type ExportFormat = 'csv' | 'ndjson'

/** The licences of an event's sources, each once, in citation order: the attribution their data asks for. */
const licencesOf = (licences: Array<string | null>) => [...new Set(licences.filter((l) => l !== null))].join('; ')

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
    source_licenses: licencesOf(e.sources.map((s) => s.license)),
    created_at: e.created_at,
    updated_at: e.updated_at,
    version: e.version
  }
}

const sortOf = (query: ExportQuery) => {
  const sort = query.sort ?? '-date'
  const direction = sort.startsWith('-') ? desc : asc
  const column = { date: events.date, created_at: events.createdAt, updated_at: events.updatedAt }[sort.replace('-', '') as 'date']
  return [direction(column), direction(events.id)]
}

/**
 * The rows of an export, in one query so that Postgres joins the sources of every event at once: one row per
 * citation (one for an event that cites nothing), an event's rows one after the other in citation order, its columns
 * as they are. Node makes the lines or records (byEvent): Postgres building each event's JSON took most of the
 * export's time (15.8 s for a million events, against 5.6 s for these rows), and its CSV records 11.4 s.
 */
function exportRows (query: ExportQuery): SQL {
  return sql`SELECT ${events.id}, ${events.companyId}, ${companies.name}, ${events.region}, ${events.service}, ${events.action},
      ${events.date}, ${events.datePrecision}, ${events.effectiveDate}, ${events.summary}, ${events.externalId}, ${events.createdAt},
      ${events.updatedAt}, ${events.version}, ${sources.url}, ${sources.publisher}, ${sources.title}, ${sources.publishedDate},
      ${sources.language}, ${eventSources.quote}, ${sources.kind}, ${sources.archivedUrl}, ${sources.license}
    FROM ${events} JOIN ${companies} ON ${eq(companies.id, events.companyId)}
      LEFT JOIN ${eventSources} ON ${eq(eventSources.eventId, events.id)} LEFT JOIN ${sources} ON ${eq(sources.id, eventSources.sourceId)}
    WHERE ${and(...eventFilterConditions(query))}
    ORDER BY ${sql.join(sortOf(query), sql`, `)}, ${eventSources.position}`
}
/** A row of exportRows as COPY writes it (text format): fields still escaped, `\N` for null. */
type Row = [string, string, string, string, string, string, string, string, string, string, string, string, string, string,
  string, string, string, string, string, string, string, string, string]
const SOURCE_URL = 14
const SOURCE_LICENSE = 22

/** Gathers the rows of each event (exportRows) and makes the event's text from its first row and the rows of its citations. */
function byEvent (format: (event: Row, cited: Row[]) => string): CopyRowFormat {
  let first: Row | undefined
  let cited: Row[] = []
  const end = () => first === undefined ? '' : format(first, cited)
  return {
    row (raw) {
      const row = raw as Row
      let out = ''
      if (row[0] !== first?.[0]) {
        out = end()
        first = row
        cited = []
      }
      if (row[SOURCE_URL] !== COPY_NULL) cited.push(row)
      return out
    },
    end
  }
}

/** A field of a COPY text row as a JSON value: a string, or null. */
function jsonOf (raw: string): string {
  const value = copyField(raw)
  return value === null ? 'null' : JSON.stringify(value)
}

/**
 * An NDJSON line, the event as `GET /v1/events/{id}` shows it, written out field by field (ids, versions and
 * timestamps need no escaping): a third faster than JSON.stringify of objects, which was most of its time in Node.
 */
function ndjsonLine (event: Row, cited: Row[]): string {
  const [id, companyId, companyName, region, service, action, date, datePrecision, effectiveDate, summary, externalId,
    createdAt, updatedAt, version] = event
  const sourceList = cited.map(([,,,,,,,,,,,,,, url, publisher, title, publishedDate, language, quote, kind, archivedUrl, license]) =>
    `{"url":${jsonOf(url)},"publisher":${jsonOf(publisher)},"title":${jsonOf(title)},"published_date":${jsonOf(publishedDate)},` +
    `"language":${jsonOf(language)},"quote":${jsonOf(quote)},"kind":${jsonOf(kind)},"archived_url":${jsonOf(archivedUrl)},` +
    `"license":${jsonOf(license)}}`)
  return `{"id":"${id}","company_id":"${companyId}","company":{"id":"${companyId}","name":${jsonOf(companyName)}},` +
    `"region":${jsonOf(region)},"service":${jsonOf(service)},"action":${jsonOf(action)},"date":${jsonOf(date)},` +
    `"date_precision":${jsonOf(datePrecision)},"effective_date":${jsonOf(effectiveDate)},"summary":${jsonOf(summary)},` +
    `"sources":[${sourceList.join(',')}],"source_count":${cited.length},"external_id":${jsonOf(externalId)},` +
    `"created_at":"${toRfc3339(createdAt)}","updated_at":"${toRfc3339(updatedAt)}","version":${version}}\n`
}

// A cell holding a bare line feed or carriage return is quoted too (csv-stringify quotes only the record delimiter,
// CRLF): many readers end a record at either.
const CSV_OPTIONS = { record_delimiter: 'windows', quoted_match: /[\r\n]/, cast: { string: neutraliseFormula } } as const

/** A CSV record (csv-stringify: RFC 4180, formula cells neutralised), its cells in CSV_COLUMNS order. */
function csvLine (event: Row, cited: Row[]): string {
  const [id, companyId, companyName, region, service, action, date, datePrecision, effectiveDate, summary, externalId,
    createdAt, updatedAt, version] = event.map(copyField)
  const urls = cited.map((row) => copyField(row[SOURCE_URL])).join(' ')
  const licences = licencesOf(cited.map((row) => copyField(row[SOURCE_LICENSE])))
  return stringifyRecords([[id, companyId, companyName, region, service, action, date, datePrecision, effectiveDate, summary,
    externalId, cited.length, urls, licences, toRfc3339(createdAt!), toRfc3339(updatedAt!), version]], CSV_OPTIONS)
}

/** Formats batches of rows (NDJSON lines, or CSV records) as the bytes of the export. */
function encode (batches: Readable, format: ExportFormat): Readable {
  if (format === 'ndjson') {
    return batches.map((lines: string[]) => lines.join('\n') + '\n')
  }
  const csv = stringify({ header: true, columns: [...CSV_COLUMNS], ...CSV_OPTIONS })
  // pipeline, not pipe: a client that goes away destroys the whole chain, which ends the database cursor too.
  pipeline(batches.flatMap((batch: CsvRecord[]) => batch), csv, () => {})
  return csv
}

/** `batchRows`: events read at a time where the export pages through the list (PGlite), which bounds its memory. */
export interface ExportOptions { timeoutMs: number, batchRows: number }

const dialect = new PgDialect({ casing: 'snake_case' })
export function createEventExportService ({ pool, events: eventService, options }: { pool?: pg.Pool | undefined, events: EventService, options: ExportOptions }) {
  /**
   * Streams the export's rows as PostgreSQL writes them with COPY, made into NDJSON lines or CSV records on the way,
   * at the pace the client reads. Resolves once the first bytes came, so that a failing query is still an error reply.
   */
  async function copied (pool: pg.Pool, query: ExportQuery, format: ExportFormat): Promise<Readable> {
    // COPY takes no parameters: the filters' values are inlined as literals (standard strings: quotes doubled).
    const copy = `COPY (${dialect.sqlToQuery(exportRows(query).inlineParams()).sql}) TO STDOUT WITH (FORMAT text)`
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
    pipeline(rows, copyRowsTo(byEvent(format === 'ndjson' ? ndjsonLine : csvLine)), body, finished)
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
      return pool ? copied(pool, query, format) : pagedBatches(query, format)
    }
  }
}
export type EventExportService = ReturnType<typeof createEventExportService>
