import { Readable } from 'node:stream'
import { stringify } from 'csv-stringify'
import { neutraliseFormula } from '../domain/export-formats.js'
import type { Event, EventList, EventListQuery } from '../schemas/events.js'
import type { EventService } from './events.js'

const BATCH = 1000

/** The CSV export's columns, fixed and in this order; lists are space-separated (URLs hold no spaces). */
export const CSV_COLUMNS = [
  'id', 'company_id', 'company_name', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date',
  'summary', 'external_id', 'source_count', 'source_urls', 'created_at', 'updated_at', 'version'
] as const

function csvRecord (e: Event): Record<typeof CSV_COLUMNS[number], string | number | null> {
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

export type ExportQuery = Omit<EventListQuery, 'limit' | 'cursor'>

export function createEventExportService ({ events }: { events: EventService }) {
  /** Every matching event, a batch at a time along the list's keyset, starting with a batch already read. */
  async function * walk (query: ExportQuery, first: EventList): AsyncGenerator<Event[]> {
    let page = first
    for (;;) {
      if (page.data.length > 0) yield page.data
      if (page.next_cursor === null) return
      page = await events.list({ ...query, limit: BATCH, cursor: page.next_cursor })
    }
  }

  return {
    /**
     * A stream of every event matching the list's filters, in the list's order, as NDJSON (one Event per line) or
     * CSV (RFC 4180, a header row, CRLF). Memory stays flat: it reads a batch, writes it, then reads the next.
     * The first batch is read before the stream is handed over, so that a bad filter is still a 400.
     */
    async open (query: ExportQuery, format: 'csv' | 'ndjson'): Promise<Readable> {
      const first = await events.list({ ...query, limit: BATCH })
      const batches = walk(query, first)
      if (format === 'ndjson') {
        return Readable.from((async function * () {
          for await (const batch of batches) yield batch.map((e) => JSON.stringify(e)).join('\n') + '\n'
        })())
      }
      const csv = stringify({ header: true, columns: [...CSV_COLUMNS], record_delimiter: 'windows', cast: { string: neutraliseFormula } })
      const records = Readable.from((async function * () {
        for await (const batch of batches) for (const event of batch) yield csvRecord(event)
      })())
      records.on('error', (err) => csv.destroy(err))
      return records.pipe(csv)
    }
  }
}
export type EventExportService = ReturnType<typeof createEventExportService>
