import { isUtf8 } from 'node:buffer'
import { Transform, type Readable, pipeline } from 'node:stream'
import { parse } from 'csv-parse'
import { yaleLine } from '../domain/yale-celi.js'
import { InvalidInput, PayloadTooLarge } from '../errors.js'
import { IMPORT_CSV_COLUMNS, IMPORT_CSV_IGNORED_COLUMNS, type ImportFormat } from '../schemas/imports.js'

/** One input line (NDJSON) or data record (CSV), numbered from 1: a value to validate, or why it cannot be read. */
export type InputRecord = { line: number, value: unknown, columns?: boolean } | { line: number, field: string, message: string }

/** The body, failing with a 413 once more than `limit` bytes came. */
function limited (body: Readable, limit: number): Readable {
  let seen = 0
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > limit) done(new PayloadTooLarge(limit))
      else done(null, chunk)
    }
  })
  pipeline(body, counter, () => {})
  return counter
}

/**
 * Lines of NDJSON, each parsed; blank lines are lines too (rejected), so that line numbers match an editor's. Lines are
 * split as bytes (a line feed is never part of a UTF-8 sequence) so that one that is not UTF-8 is rejected, not mangled.
 */
async function * ndjsonRecords (body: Readable): AsyncGenerator<InputRecord> {
  // The start of the current line, as the chunks it came in: joined once, when its end comes.
  let pieces: Buffer[] = []
  let line = 0
  const record = (bytes: Buffer): InputRecord => {
    line++
    if (!isUtf8(bytes)) return { line, field: '', message: 'is not valid UTF-8' }
    // A byte order mark before the first line, as some editors write one, is not part of it (CSV bodies drop it too).
    const text = line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.toString('utf8', 3) : bytes.toString('utf8')
    const trimmed = text.endsWith('\r') ? text.slice(0, -1) : text
    if (trimmed.trim() === '') return { line, field: '', message: 'is empty; every line must be a JSON object' }
    try {
      return { line, value: JSON.parse(trimmed) }
    } catch (err) {
      return { line, field: '', message: `is not valid JSON: ${(err as Error).message}` }
    }
  }
  for await (const chunk of body as AsyncIterable<Buffer>) {
    let start = 0
    for (let end = chunk.indexOf(LINE_FEED); end !== -1; end = chunk.indexOf(LINE_FEED, start)) {
      const part = chunk.subarray(start, end)
      yield record(pieces.length === 0 ? part : Buffer.concat([...pieces, part]))
      pieces = []
      start = end + 1
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start))
  }
  // A last line without a line end is a line; an empty one after the last line end is not.
  if (pieces.length > 0) yield record(Buffer.concat(pieces))
}
const LINE_FEED = 0x0a

const ALLOWED_CSV = new Set<string>([...IMPORT_CSV_COLUMNS, ...IMPORT_CSV_IGNORED_COLUMNS])
/** A header problem; a column name is cut short, since it is echoed in the pointer and the detail. */
const header = (pointer: string, message: string) =>
  new InvalidInput({ in: 'body', pointer: `/header${shortened(pointer, 100)}`, message: shortened(message, 1000) })
const shortened = (text: string, length: number) => text.length <= length ? text : `${text.slice(0, length)}…`

/** Checks the header row of a format; a header that cannot be read is a 400 before anything is imported. */
function checkHeader (format: ImportFormat, columns: string[]): string[] {
  const names = columns.map((c) => c.trim())
  const seen = new Set<string>()
  for (const name of names) {
    if (seen.has(name)) throw header(`/${name}`, 'appears twice')
    seen.add(name)
  }
  if (format === 'csv') {
    const unknown = names.find((n) => !ALLOWED_CSV.has(n))
    if (unknown !== undefined) throw header(`/${unknown}`, `is not an import column; the columns are ${IMPORT_CSV_COLUMNS.join(', ')}`)
    for (const required of ['region', 'service', 'action', 'date', 'source_urls']) {
      if (!seen.has(required)) throw header(`/${required}`, 'is a required column')
    }
    if (!seen.has('company_id') && !seen.has('company_name')) throw header('/company_id', 'is required, or company_name (and company_country)')
    return names
  }
  // Yale's copies name the grade `yaleGrade` (the scraped CSV) or `grade` (the snapshots).
  const yale = names.map((n) => n === 'yaleGrade' ? 'grade' : n)
  const required = format === 'yale-celi-snapshots' ? ['snapshot_date', 'name', 'grade'] : ['name', 'grade']
  for (const column of required) if (!yale.includes(column)) throw header(`/${column}`, 'is a required column of this format')
  // Imported as one list, every copy's row would take the list's date, rewriting the dated history.
  if (format === 'yale-celi' && yale.includes('snapshot_date')) {
    throw header('/snapshot_date', 'is a column of the dated copies: import this file with format=yale-celi-snapshots')
  }
  return yale
}

/** The import line of one CSV record of our own columns: empty cells are absent, `source_urls` is space-separated. */
function eventFromCsv (cells: Record<string, string>): Record<string, unknown> {
  const value: Record<string, unknown> = {}
  for (const column of ['company_id', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date', 'summary', 'external_id']) {
    if (cells[column] !== undefined && cells[column] !== '') value[column] = cells[column]
  }
  // An export has both: the id names the company, the name is for people.
  if (value.company_id === undefined && cells.company_name !== undefined && cells.company_name !== '') {
    value.company = { name: cells.company_name, ...(cells.company_country ? { country: cells.company_country } : {}) }
  }
  const urls = (cells.source_urls ?? '').split(/\s+/).filter((u) => u !== '')
  value.sources = urls.map((url) => ({ url }))
  return value
}

/** Where a field of an import line is in a CSV record, for error messages. */
export function csvField (pointer: string): string {
  if (pointer.startsWith('/company/name')) return '/company_name'
  if (pointer.startsWith('/company/country')) return '/company_country'
  if (pointer.startsWith('/sources')) return '/source_urls'
  return pointer
}

/** The cells of a record as text, or the index of the first that is not UTF-8. */
function decodedCells (cells: Uint8Array[]): string[] | number {
  const texts: string[] = []
  for (const [i, cell] of cells.entries()) {
    if (!isUtf8(cell)) return i
    texts.push(Buffer.from(cell.buffer, cell.byteOffset, cell.byteLength).toString('utf8'))
  }
  return texts
}

/** csv-parse fails once per stray quote and quotes the record so far each time: one record may fail this often. */
const CSV_ERRORS_PER_RECORD = 20
/** Thrown into csv-parse to stop it on a record that fails more often than that. */
class UnreadableRecord extends Error {}

/**
 * Data records of a CSV body, the header first checked. A record the parser cannot read is skipped by the parser and
 * rejected here, in its place; after a quote error, everything up to the next record the parser can read (with an
 * unclosed quote, the rest of the body) belongs to that one rejected record. A header that cannot be read, or a record
 * that fails too often, stops the parser: the rest of the body belongs to it.
 */
async function * csvRecords (body: Readable, format: ImportFormat, date: string | undefined): AsyncGenerator<InputRecord> {
  let emitted = 0
  const skipped: { after: number, message: string, errors: number }[] = []
  // The records read and not yet handed over, in order.
  const pending: Uint8Array[][] = []
  const parser = parse({
    // Cells come as bytes, so that one that is not UTF-8 is rejected, not mangled; a BOM stays in the first (trim drops it).
    encoding: null,
    bom: false,
    relax_column_count: true,
    skip_records_with_error: true,
    on_record: (record) => {
      emitted++
      // The types assume text; with `encoding: null` the cells are bytes.
      pending.push(record as unknown as Uint8Array[])
      return record
    },
    on_skip: (err) => {
      // The parser quotes the record's bytes so far; where it failed says enough.
      const message = shortened((err?.message ?? 'cannot be read').replace(/, value is [\s\S]*$/, ''), 300)
      if (emitted === 0) throw header('', `cannot be read: ${message}`)
      // One unreadable record, however often the parser fails before it finds the record's end; its first error says why.
      const last = skipped.at(-1)
      if (last === undefined || last.after !== emitted) skipped.push({ after: emitted, message, errors: 1 })
      else if (++last.errors === CSV_ERRORS_PER_RECORD) {
        last.message += `; the parser stopped after ${CSV_ERRORS_PER_RECORD} errors in this record, so the rest of the body was not read`
        throw new UnreadableRecord()
      }
    }
  })
  pipeline(body, parser, () => {})
  let columns: string[] | undefined
  // The columns as the header names them, for the fields of rejections (the Yale formats read `yaleGrade` as `grade`).
  let named: string[] = []
  const fieldOf = (field: string) => {
    const at = columns!.indexOf(field.slice(1))
    return field.startsWith('/') && at !== -1 ? `/${named[at]}` : field
  }
  let line = 0
  let seen = 0
  const unreadable = function * (before: number): Generator<InputRecord> {
    while (skipped.length > 0 && skipped[0]!.after < before) {
      yield { line: ++line, field: '', message: `is not valid CSV: ${skipped.shift()!.message}` }
    }
  }
  const input = function * (bytes: Uint8Array[]): Generator<InputRecord> {
    yield * unreadable(++seen)
    const cells = decodedCells(bytes)
    if (columns === undefined) {
      if (typeof cells === 'number') throw header('', 'is not valid UTF-8')
      columns = checkHeader(format, cells)
      named = cells.map((c) => c.trim())
      return
    }
    line++
    if (typeof cells === 'number') {
      yield { line, field: cells < columns.length ? `/${named[cells]}` : '', message: 'is not valid UTF-8' }
      return
    }
    if (cells.length !== columns.length) {
      yield { line, field: '', message: `has ${cells.length} cells; the header has ${columns.length}` }
      return
    }
    const row = Object.fromEntries(columns.map((c, i) => [c, cells[i]!]))
    if (format === 'csv') {
      yield { line, value: eventFromCsv(row), columns: true }
      return
    }
    const day = format === 'yale-celi' ? date! : row.snapshot_date!.trim()
    if (format === 'yale-celi-snapshots' && !/^\d{4}-\d{2}-\d{2}$/.test(day)) {
      yield { line, field: '/snapshot_date', message: 'must be a date, YYYY-MM-DD' }
      return
    }
    const mapped = yaleLine(row, day)
    yield 'line' in mapped ? { line, value: mapped.line } : { line, field: fieldOf(mapped.field), message: mapped.message }
  }
  try {
    for await (const cells of parser as AsyncIterable<Uint8Array[]>) {
      pending.shift()
      yield * input(cells)
    }
  } catch (err) {
    if (!(err instanceof UnreadableRecord)) throw err
    // Stopping the parser dropped the records it had read but not yet handed over.
    for (const cells of pending.splice(0)) yield * input(cells)
  }
  yield * unreadable(Infinity)
  if (columns === undefined) throw header('', 'is missing: the body is empty')
}

/** The records of a body in its format, at most `limit` bytes of it. */
export function readRecords (body: Readable, format: ImportFormat, options: { limit: number, date?: string | undefined }): AsyncGenerator<InputRecord> {
  const input = limited(body, options.limit)
  return format === 'ndjson' ? ndjsonRecords(input) : csvRecords(input, format, options.date)
}
