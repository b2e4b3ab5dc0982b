import type { Readable } from 'node:stream'
import { and, asc, eq, gt, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import { retryConflicts } from '../db/ambient.js'
import { queryRows, withSession, type Database, type Db, type Executor } from '../db/client.js'
import { companies, importErrors, imports, revisions } from '../db/schema.js'
import { decodeCursor, encodeCursor } from '../domain/cursor.js'
import { findUnstorableString } from '../domain/text.js'
import { toRfc3339 } from '../domain/time.js'
import { normaliseSourceUrl } from '../domain/urls.js'
import { ImportNotFound, InvalidCursor, InvalidInput } from '../errors.js'
import { SourceInput, type Source } from '../schemas/events.js'
import { ImportLine, type Import, type ImportFormat, type ImportGetQuery, type ImportMode } from '../schemas/imports.js'
import { compileBodyValidator, describeValidationError } from '../validation.js'
import { toCompany } from './companies.js'
import { checkEventRules, normaliseFields, sourceDocument, toEvent, type EventView } from './events.js'
import { csvField, readRecords, type InputRecord } from './import-input.js'
import type { Actor } from './revisions.js'

/** Lines per batch: each batch is a handful of set-based statements. */
export const IMPORT_BATCH = 2000

const validateLine = compileBodyValidator(ImportLine, [SourceInput])

interface Rejection { line: number, field: string, message: string }
interface Cite { url: string, quote: string | null }
interface ValidLine {
  line: number
  companyId?: string
  company?: { name: string, country: string | null, sector: string | null }
  fields: {
    region: string,
    service: string,
    action: string,
    date: string,
    date_precision: string,
    effective_date: string | null,
    summary: string | null,
    external_id: string | null
  }
  sources: SourceInput[]
}
interface Outcomes { created: number, updated: number, unchanged: number, rejected: Rejection[] }

const UNSTORABLE = 'must not contain NUL characters or unpaired UTF-16 surrogates'
const foldKey = (name: string, country: string | null) =>
  `${name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()}\u001f${country ?? ''}`

/** Validates one record as `POST /v1/events` would: the schema, then the rules the events service checks. */
export function validateRecord (record: InputRecord): ValidLine | Rejection {
  if ('field' in record) return record
  const { line, value } = record
  const at = (field: string, message: string): Rejection => ({ line, field: 'columns' in record ? csvField(field) : field, message })
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return at('', 'must be a JSON object')
  const unstorable = findUnstorableString(value)
  if (unstorable !== undefined) return at(unstorable, UNSTORABLE)
  if (!validateLine(value)) {
    const described = describeValidationError('body', validateLine.errors![0]!)
    return at(described.pointer, described.message)
  }
  const input = value as ImportLine
  if (input.company_id === undefined && input.company === undefined) return at('/company_id', 'is required, or name the company with company')
  if (input.company_id !== undefined && input.company !== undefined) return at('/company', 'cannot be given with company_id')
  const fields = normaliseFields({ date_precision: 'day' as const, ...input })
  try {
    checkEventRules(fields, input.sources)
  } catch (err) {
    if (!(err instanceof InvalidInput)) throw err
    return at(err.errors[0]!.pointer, err.errors[0]!.message)
  }
  return {
    line,
    ...(input.company_id === undefined ? {} : { companyId: input.company_id.toLowerCase() }),
    ...(input.company === undefined
      ? {}
      : { company: { name: input.company.name.trim(), country: input.company.country?.toUpperCase() ?? null, sector: input.company.sector?.trim() || null } }),
    fields: {
      region: fields.region,
      service: fields.service,
      action: fields.action,
      date: fields.date,
      date_precision: fields.date_precision,
      effective_date: fields.effective_date ?? null,
      summary: fields.summary ?? null,
      external_id: fields.external_id ?? null
    },
    sources: input.sources.map((s) => ({ ...s, url: normaliseSourceUrl(s.url) }))
  }
}

const json = (value: unknown) => sql`${JSON.stringify(value)}::json`

interface ExistingEvent {
  id: string,
  created_at: string,
  version: number,
  external_id: string,
  company_id: string,
  region: string,
  service: string,
  action: string,
  date: string,
  date_precision: string,
  effective_date: string | null,
  summary: string | null,
  cites: [string, string | null][]
}
type StoredSource = Omit<Source, 'quote'> & { id: string }

/**
 * Writes one batch of valid lines with a few set-based statements, as the events service would line by line:
 * companies matched or created, sources stored once per URL, events created or upserted on `external_id`, one
 * history row per created or updated event or company and none for an unchanged one.
 */
async function writeBatch (tx: Executor, lines: ValidLine[], searchVectors: Promise<SearchVectors>, seenTable: string, actor: Actor): Promise<Outcomes> {
  const rejected: Rejection[] = []
  const reject = (line: ValidLine, field: string, message: string) => rejected.push({ line: line.line, field, message })

  // Companies named by id must be live.
  const ids = [...new Set(lines.flatMap((l) => l.companyId === undefined ? [] : [l.companyId]))]
  // The names as stored, for the history rows: a line's name matches one that differs in case and accents.
  const companyNames = new Map(ids.length === 0
    ? []
    : (await queryRows<{ id: string, name: string }>(tx, sql`SELECT id, name FROM ${companies}
        WHERE deleted_at IS NULL AND id IN (SELECT x::uuid FROM json_array_elements_text(${json(ids)}) x)`)).map((r) => [r.id, r.name]))

  // Companies named by name and country: the oldest live one with that name (ignoring case and accents), or a new one.
  const byKey = new Map<string, { name: string, country: string | null, sector: string | null, id?: string }>()
  for (const l of lines) if (l.company) byKey.set(foldKey(l.company.name, l.company.country), byKey.get(foldKey(l.company.name, l.company.country)) ?? { ...l.company })
  if (byKey.size > 0) {
    const keys = [...byKey.keys()]
    const wanted = keys.map((k, i) => ({ k: i, name: byKey.get(k)!.name, country: byKey.get(k)!.country }))
    const found = await queryRows<{ k: number, id: string, name: string }>(tx, sql`
      SELECT DISTINCT ON (i.k) i.k, c.id, c.name FROM json_to_recordset(${json(wanted)}) AS i(k int, name text, country text)
      JOIN ${companies} c ON fold_text(c.name) = fold_text(i.name) AND c.country IS NOT DISTINCT FROM i.country AND c.deleted_at IS NULL
      ORDER BY i.k, c.id`)
    for (const f of found) {
      byKey.get(keys[f.k]!)!.id = f.id
      companyNames.set(f.id, f.name)
    }
    const missing = [...byKey.values()].filter((c) => c.id === undefined)
    if (missing.length > 0) {
      const rows = await tx.insert(companies)
        .values(missing.map((c) => ({ id: (c.id = uuidv7()), name: c.name, country: c.country, sector: c.sector }))).returning()
      for (const row of rows) companyNames.set(row.id, row.name)
      await tx.insert(revisions).values(rows.map((row) => ({
        id: uuidv7(),
        resourceType: 'company' as const,
        resourceId: row.id,
        operation: 'created' as const,
        version: 1,
        data: toCompany(row),
        apiKeyId: actor.apiKeyId,
        changeReason: actor.reason ?? null
      })))
    }
  }
  const companyOf = (l: ValidLine) => l.companyId ?? byKey.get(foldKey(l.company!.name, l.company!.country))!.id!
  let candidates = lines.filter((l) => {
    if (l.companyId === undefined || companyNames.has(l.companyId)) return true
    reject(l, '/company_id', 'must name an existing company that is not deleted')
    return false
  })

  // A key seen earlier in this import: the later line is a duplicate, reported, not applied.
  const keyed = candidates.filter((l) => l.fields.external_id !== null)
  if (keyed.length > 0) {
    const table = sql.raw(seenTable)
    const fresh = new Set((await queryRows<{ line: number }>(tx, sql`
      INSERT INTO ${table} (external_id, line)
      SELECT external_id, line FROM json_to_recordset(${json(keyed.map((l) => ({ external_id: l.fields.external_id, line: l.line })))})
        AS r(external_id text, line int) ORDER BY line
      ON CONFLICT (external_id) DO NOTHING RETURNING line`)).map((r) => Number(r.line)))
    const repeats = keyed.filter((l) => !fresh.has(l.line))
    if (repeats.length > 0) {
      const first = new Map((await queryRows<{ external_id: string, line: number }>(tx, sql`
        SELECT external_id, line FROM ${table} WHERE external_id IN (SELECT x FROM json_array_elements_text(${json(repeats.map((l) => l.fields.external_id))}) x)`))
        .map((r) => [r.external_id, Number(r.line)]))
      const repeated = new Set(repeats.map((l) => l.line))
      for (const l of repeats) reject(l, '/external_id', `duplicate of line ${first.get(l.fields.external_id!)}`)
      candidates = candidates.filter((l) => !repeated.has(l.line))
    }
  }
  if (candidates.length === 0) return { created: 0, updated: 0, unchanged: 0, rejected }

  // Sources once per URL; a source cited again only gains the fields it lacked.
  const sourceByUrl = new Map<string, Record<string, unknown>>()
  for (const s of candidates.flatMap((l) => l.sources)) {
    const known = sourceByUrl.get(s.url)
    const row = {
      url: s.url,
      publisher: s.publisher ?? null,
      title: s.title ?? null,
      published_date: s.published_date ?? null,
      language: s.language ?? null,
      kind: s.kind ?? null,
      archived_url: s.archived_url ?? null,
      license: s.license ?? null
    }
    if (!known) sourceByUrl.set(s.url, { id: uuidv7(), ...row })
    else for (const [k, v] of Object.entries(row)) if (known[k] === null) known[k] = v
  }
  const sourceRows = json([...sourceByUrl.values()])
  const sourceColumns = sql`r(id uuid, url text, publisher text, title text, published_date date, language text, kind text, archived_url text, license text)`
  await tx.execute(sql`INSERT INTO sources (id, url, publisher, title, published_date, language, kind, archived_url, license)
    SELECT id, url, publisher, title, published_date, language, kind, archived_url, license FROM json_to_recordset(${sourceRows}) AS ${sourceColumns}
    ORDER BY url ON CONFLICT (url) DO NOTHING`)
  const gaps = ['publisher', 'title', 'published_date', 'language', 'kind', 'archived_url', 'license']
  // The sources that gain a title: other events citing them must have their search documents made again.
  const retitled = (await queryRows<{ id: string, retitled: boolean }>(tx, sql`UPDATE sources s
    SET ${sql.raw(gaps.map((g) => `${g} = coalesce(s.${g}, r.${g})`).join(', '))}, updated_at = now()
    FROM (SELECT r.*, old.title IS NULL AS untitled FROM json_to_recordset(${sourceRows}) AS ${sourceColumns} JOIN sources old ON old.url = r.url) r
    WHERE s.url = r.url AND (${sql.raw(gaps.map((g) => `(s.${g} IS NULL AND r.${g} IS NOT NULL)`).join(' OR '))})
    RETURNING s.id, r.untitled AND r.title IS NOT NULL AS retitled`)).flatMap((r) => r.retitled ? [r.id] : [])
  const stored = new Map((await queryRows<StoredSource>(tx, sql`SELECT id, url, publisher, title, published_date::text AS published_date,
      language, kind, archived_url, license FROM sources WHERE url IN (SELECT x FROM json_array_elements_text(${json([...sourceByUrl.keys()])}) x)`)).map((r) => [r.url, r]))

  // Upsert on external_id: the line is the whole event; equal to the live one, it changes nothing.
  const externalIds = candidates.flatMap((l) => l.fields.external_id === null ? [] : [l.fields.external_id])
  const existing = new Map((externalIds.length === 0
    ? []
    : await queryRows<ExistingEvent>(tx, sql`
      SELECT e.id, e.created_at::text AS created_at, e.version, e.external_id, e.company_id, e.region, e.service, e.action, e.date::text AS date, e.date_precision,
        e.effective_date::text AS effective_date, e.summary,
        coalesce((SELECT json_agg(json_build_array(s.url, es.quote) ORDER BY es.position)
          FROM event_sources es JOIN sources s ON s.id = es.source_id WHERE es.event_id = e.id), '[]'::json) AS cites
      FROM events e WHERE e.deleted_at IS NULL AND e.external_id IN (SELECT x FROM json_array_elements_text(${json(externalIds)}) x)
      ORDER BY e.id FOR UPDATE OF e`)).map((e) => [e.external_id, e]))

  const vectors = await searchVectors
  const created: Record<string, unknown>[] = []
  const updated: Record<string, unknown>[] = []
  const relinked: string[] = []
  const citations: Record<string, unknown>[] = []
  const written: Array<{ id: string, operation: 'created' | 'updated', row: ValidLine['fields'] & { company_id: string }, cites: Cite[], before?: ExistingEvent }> = []
  let unchanged = 0
  for (const l of candidates) {
    const row = { ...l.fields, company_id: companyOf(l) }
    const cites: Cite[] = l.sources.map((s) => ({ url: s.url, quote: s.quote ?? null }))
    // The sources' part of the search document, with the titles as stored.
    const docOf = () => sourceDocument(cites.map((c) => ({ title: stored.get(c.url)!.title, quote: c.quote })))
    const current = l.fields.external_id === null ? undefined : existing.get(l.fields.external_id)
    let id: string
    if (current === undefined) {
      id = uuidv7()
      const doc = docOf()
      const made = vectors.get(l.line)
      created.push({ id, ...row, doc, summary_vector: made?.summary ?? null, doc_vector: made !== undefined && made.docText === doc ? made.doc : null })
      written.push({ id, operation: 'created', row, cites })
    } else {
      const sameFields = (['company_id', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date', 'summary'] as const)
        .every((k) => current[k] === row[k])
      const sameCites = current.cites.length === cites.length && current.cites.every(([url, quote], i) => url === cites[i]!.url && quote === cites[i]!.quote)
      if (sameFields && sameCites) {
        unchanged++
        continue
      }
      id = current.id
      updated.push({ id, ...row, doc: docOf() })
      written.push({ id, operation: 'updated', row, cites, before: current })
      if (sameCites) continue
      relinked.push(id)
    }
    cites.forEach((c, position) => citations.push({ event_id: id, source_id: stored.get(c.url)!.id, position, quote: c.quote }))
  }

  if (created.length > 0) {
    // The search document as event_search_document makes it, in the insert (no second write of every row), with the
    // vectors of company names and services, which repeat, made once per batch.
    await tx.execute(sql`WITH r AS MATERIALIZED (
        SELECT * FROM json_to_recordset(${json(created)}) AS r(id uuid, company_id uuid, region text, service text, action text, date date,
          date_precision text, effective_date date, summary text, external_id text, doc text, summary_vector tsvector, doc_vector tsvector)
      ),
      names AS MATERIALIZED (
        SELECT c.id, setweight(search_vector(array_to_string(c.name || c.aliases, ' ')), 'A') AS v
        FROM companies c WHERE c.id IN (SELECT company_id FROM r)
      ),
      services AS MATERIALIZED (SELECT service, setweight(search_vector(service), 'B') AS v FROM (SELECT DISTINCT service FROM r) s)
      INSERT INTO events (id, company_id, region, service, action, date, date_precision, effective_date, summary, external_id, search)
      SELECT r.id, r.company_id, r.region, r.service, r.action, r.date, r.date_precision, r.effective_date, r.summary, r.external_id,
        names.v || services.v || coalesce(r.summary_vector, setweight(search_vector(r.summary), 'C'))
          || coalesce(r.doc_vector, CASE WHEN r.doc IS NULL THEN ''::tsvector ELSE setweight(search_vector(r.doc), 'D') END)
      FROM r JOIN names ON names.id = r.company_id JOIN services ON services.service = r.service`)
  }
  if (updated.length > 0) {
    await tx.execute(sql`UPDATE events e SET company_id = r.company_id, region = r.region, service = r.service, action = r.action,
      date = r.date, date_precision = r.date_precision, effective_date = r.effective_date, summary = r.summary,
      search = event_search_document(c.name || c.aliases, r.service, r.summary, r.doc), version = e.version + 1, updated_at = now()
      FROM json_to_recordset(${json(updated)}) AS r(id uuid, company_id uuid, region text, service text, action text, date date,
        date_precision text, effective_date date, summary text, doc text)
      JOIN companies c ON c.id = r.company_id
      WHERE e.id = r.id`)
  }
  if (relinked.length > 0) {
    await tx.execute(sql`DELETE FROM event_sources WHERE event_id IN (SELECT x::uuid FROM json_array_elements_text(${json(relinked)}) x)`)
  }
  if (citations.length > 0) {
    await tx.execute(sql`INSERT INTO event_sources (event_id, source_id, position, quote)
      SELECT event_id, source_id, position, quote FROM json_to_recordset(${json(citations)}) AS r(event_id uuid, source_id uuid, position int, quote text)`)
  }
  if (retitled.length > 0) {
    // The events written here have documents made with the new titles already.
    await tx.execute(sql`SELECT refresh_event_search(ARRAY(SELECT DISTINCT es.event_id FROM event_sources es
      WHERE es.source_id IN (SELECT x::uuid FROM json_array_elements_text(${json(retitled)}) x)
        AND es.event_id NOT IN (SELECT x::uuid FROM json_array_elements_text(${json(written.map((w) => w.id))}) x)))`)
  }
  if (written.length > 0) {
    // The history rows hold each event as `GET /v1/events/{id}` shows it, built here from what the batch wrote: in SQL,
    // gathering every event's company and sources again cost the database a fifth of the batch.
    const [{ now }] = await queryRows<{ now: string }>(tx, sql`SELECT now()::text AS now`) as [{ now: string }]
    const history = written.map(({ id, operation, row, cites, before }) => {
      const sourceList = cites.map(({ url, quote }): Source => {
        const { id: _, ...source } = stored.get(url)!
        return { ...source, quote }
      })
      const version = before === undefined ? 1 : before.version + 1
      const view: EventView = {
        id,
        companyId: row.company_id,
        companyName: companyNames.get(row.company_id)!,
        region: row.region,
        service: row.service,
        action: row.action as EventView['action'],
        date: row.date,
        datePrecision: row.date_precision as EventView['datePrecision'],
        effectiveDate: row.effective_date,
        summary: row.summary,
        externalId: row.external_id,
        createdAt: before?.created_at ?? now,
        updatedAt: now,
        version
      }
      return { revision_id: uuidv7(), id, operation, version, data: toEvent(view, sourceList) }
    })
    // One JSON document: as parameters, 2,000 rows of eight took longer to build and to parse than the rows themselves.
    await tx.execute(sql`INSERT INTO revisions (id, resource_type, resource_id, operation, version, data, api_key_id, change_reason)
      SELECT r.revision_id, 'event', r.id, r.operation, r.version, r.data, ${actor.apiKeyId}::uuid, ${actor.reason ?? null}
      FROM json_to_recordset(${json(history)}) AS r(revision_id uuid, id uuid, operation text, version int, data jsonb)`)
  }
  return { created: created.length, updated: updated.length, unchanged, rejected }
}

interface LineVectors { summary: string, doc: string, docText: string | null }
type SearchVectors = Map<number, LineVectors>

/**
 * The weighted search vectors of the lines that would create an event (their external_id is not live yet), by line:
 * of the summary, and of the sources (which holds when the stored sources have the titles the line gives: a title
 * stored first is kept). They depend on the text alone, so any connection can make them.
 */
async function searchVectorsOf (ex: Executor, lines: ValidLine[]): Promise<SearchVectors> {
  const wanted = lines.map((l) => ({
    line: l.line,
    summary: l.fields.summary,
    doc: sourceDocument(l.sources.map((s) => ({ title: s.title ?? null, quote: s.quote ?? null }))),
    external_id: l.fields.external_id
  }))
  const rows = await queryRows<{ line: number, summary: string, doc: string }>(ex, sql`
    SELECT r.line, setweight(search_vector(r.summary), 'C')::text AS summary, setweight(search_vector(r.doc), 'D')::text AS doc
    FROM json_to_recordset(${json(wanted)}) AS r(line int, summary text, doc text, external_id text)
    WHERE r.external_id IS NULL OR NOT EXISTS (SELECT FROM events e WHERE e.external_id = r.external_id AND e.deleted_at IS NULL)`)
  const docs = new Map(wanted.map((w) => [w.line, w.doc]))
  return new Map(rows.map((r) => [Number(r.line), { summary: r.summary, doc: r.doc, docText: docs.get(Number(r.line))! }]))
}

/** Thrown out of an atomic import's transaction to roll it back once it is known that a line was rejected. */
class AtomicRollback extends Error {}

interface Batch { valid: ValidLine[], invalid: Rejection[], lines: number, searchVectors: Promise<SearchVectors> }

export interface StartOptions { format: ImportFormat, mode: ImportMode, date?: string | undefined, actor: Actor, bodyLimit: number }

export function createImportService ({ db, database, timeoutMs }: { db: Db, database: Database, timeoutMs: number }) {
  async function addErrors (ex: Executor, importId: string, errors: Rejection[]): Promise<void> {
    for (let i = 0; i < errors.length; i += 5000) {
      await ex.insert(importErrors).values(errors.slice(i, i + 5000).map((e) => ({ importId, ...e })))
    }
  }

  async function addCounts (ex: Executor, importId: string, counts: { created: number, updated: number, unchanged: number, rejected: number }): Promise<void> {
    const lines = counts.created + counts.updated + counts.unchanged + counts.rejected
    await ex.update(imports).set({
      created: sql`${imports.created} + ${counts.created}`,
      updated: sql`${imports.updated} + ${counts.updated}`,
      unchanged: sql`${imports.unchanged} + ${counts.unchanged}`,
      rejected: sql`${imports.rejected} + ${counts.rejected}`,
      linesDone: sql`${imports.linesDone} + ${lines}`
    }).where(eq(imports.id, importId))
  }

  /**
   * The import's own bound replaces the request ones: a batch's statements take longer than a request's on a busy
   * machine, and an atomic import's transaction waits on the client between batches.
   */
  async function boundByImport (tx: Executor): Promise<void> {
    await tx.execute(sql.raw(`SET LOCAL idle_in_transaction_session_timeout = ${Math.trunc(timeoutMs)}`))
    await tx.execute(sql.raw(`SET LOCAL statement_timeout = ${Math.trunc(timeoutMs)}`))
  }

  /** Validates a batch of records and writes the valid ones; the records' JavaScript work is done before the batch waits for the database. */
  function prepare (records: InputRecord[]): { valid: ValidLine[], invalid: Rejection[] } {
    const valid: ValidLine[] = []
    const invalid: Rejection[] = []
    for (const record of records) {
      const result = validateRecord(record)
      if ('fields' in result) valid.push(result)
      else invalid.push(result)
    }
    return { valid, invalid }
  }

  /** The records in batches, validated. */
  async function * prepared (records: AsyncGenerator<InputRecord>, first: InputRecord): AsyncGenerator<{ valid: ValidLine[], invalid: Rejection[], lines: number }> {
    let batch: InputRecord[] = [first]
    for await (const record of records) {
      batch.push(record)
      if (batch.length === IMPORT_BATCH) {
        yield { ...prepare(batch), lines: batch.length }
        batch = []
      }
    }
    if (batch.length > 0) yield { ...prepare(batch), lines: batch.length }
  }

  /**
   * The batches with the search vectors of their summaries and sources, the largest part of the work of inserting them. On
   * PostgreSQL another connection makes the next batch's while this one is written, so the two cores share the work;
   * PGlite's one connection makes them as it inserts the events.
   */
  async function * batches (records: AsyncGenerator<InputRecord>, first: InputRecord): AsyncGenerator<Batch> {
    const none = Promise.resolve(new Map<number, LineVectors>())
    let ahead: Batch | undefined
    for await (const batch of prepared(records, first)) {
      const next = {
        ...batch,
        searchVectors: database.kind === 'postgres' && batch.valid.length > 0
          ? db.transaction(async (tx) => {
            await boundByImport(tx)
            return searchVectorsOf(tx, batch.valid)
          })
          : none
      }
      // Awaited when the batch is written; a batch that never is (the import stopped before it) must not leave a rejection unhandled.
      next.searchVectors.catch(() => {})
      if (ahead !== undefined) yield ahead
      ahead = next
    }
    if (ahead !== undefined) yield ahead
  }

  async function run (session: Db, importId: string, mode: ImportMode, records: AsyncGenerator<InputRecord>, first: InputRecord, actor: Actor): Promise<'done' | 'failed'> {
    const seenTable = `import_seen_${importId.replaceAll('-', '')}`
    await session.execute(sql.raw(`CREATE TEMPORARY TABLE ${seenTable} (external_id text PRIMARY KEY, line int NOT NULL)`))
    let lines = 0
    // A bulk load outruns autovacuum: with statistics of a table a fraction of its size, the planner joins the sources of
    // each event by scanning them all (4.7 s for a batch after 8,000 lines). Analysing as the tables grow fourfold keeps plans right.
    let analyseAt = IMPORT_BATCH
    const analyse = async (ex: Executor) => {
      if (lines < analyseAt) return
      analyseAt = lines * 4
      await ex.execute(sql`ANALYZE events, event_sources, sources, companies`)
    }
    try {
      if (mode === 'partial') {
        for await (const batch of batches(records, first)) {
          // A batch is its own transaction, and the lines stay at hand: one that met a concurrent write is written again.
          await retryConflicts(() => session.transaction(async (tx) => {
            await boundByImport(tx)
            const outcome = await writeBatch(tx, batch.valid, batch.searchVectors, seenTable, actor)
            const rejected = [...batch.invalid, ...outcome.rejected].sort((a, b) => a.line - b.line)
            await addErrors(tx, importId, rejected)
            await addCounts(tx, importId, { ...outcome, rejected: rejected.length })
          }))
          lines += batch.lines
          await analyse(session)
        }
        await db.update(imports).set({ linesTotal: lines }).where(eq(imports.id, importId))
        return 'done'
      }
      // Atomic: one transaction; the rejected lines are kept until it ends, since a rollback would take them along.
      const rejected: Rejection[] = []
      const totals = { created: 0, updated: 0, unchanged: 0 }
      try {
        await session.transaction(async (tx) => {
          await boundByImport(tx)
          for await (const batch of batches(records, first)) {
            const outcome = await writeBatch(tx, batch.valid, batch.searchVectors, seenTable, actor)
            rejected.push(...batch.invalid, ...outcome.rejected)
            totals.created += outcome.created
            totals.updated += outcome.updated
            totals.unchanged += outcome.unchanged
            lines += batch.lines
            await analyse(tx)
            // Progress shows from another connection; PGlite has only the one this transaction holds.
            if (database.kind === 'postgres') await db.update(imports).set({ linesDone: lines }).where(eq(imports.id, importId))
          }
          if (rejected.length > 0) throw new AtomicRollback()
          await addCounts(tx, importId, { ...totals, rejected: 0 })
          await tx.update(imports).set({ linesTotal: lines, linesDone: lines }).where(eq(imports.id, importId))
        })
        return 'done'
      } catch (err) {
        if (!(err instanceof AtomicRollback)) throw err
      }
      rejected.sort((a, b) => a.line - b.line)
      await db.transaction(async (tx) => {
        await addErrors(tx, importId, rejected)
        // Nothing landed: every line that was not rejected left everything unchanged.
        await tx.update(imports).set({
          created: 0, updated: 0, unchanged: lines - rejected.length, rejected: rejected.length, linesDone: lines, linesTotal: lines
        }).where(eq(imports.id, importId))
      })
      return 'failed'
    } finally {
      await session.execute(sql.raw(`DROP TABLE IF EXISTS ${seenTable}`))
    }
  }

  return {
    /**
     * Reads a body of events (NDJSON, CSV or a Yale CELI list) and applies it line by line in batches,
     * recording every line's outcome; resolves once the whole body is read and applied.
     */
    async run (body: Readable, options: StartOptions): Promise<{ id: string, status: 'done' | 'failed' }> {
      const records = readRecords(body, options.format, { limit: options.bodyLimit, date: options.date })
      // The first record is read before the import exists, so that a bad header or body is a 400 that leaves nothing behind.
      const next = await records.next()
      const first = next.done ? undefined : next.value
      const id = uuidv7()
      await db.insert(imports).values({
        id,
        format: options.format,
        mode: options.mode,
        status: first === undefined ? 'done' : 'running',
        apiKeyId: options.actor.apiKeyId,
        startedAt: sql`now()`,
        linesTotal: first === undefined ? 0 : null,
        ...(first === undefined ? { finishedAt: sql`now()` } : {})
      })
      if (first === undefined) return { id, status: 'done' }
      try {
        const status = await withSession(database, (session) => run(session, id, options.mode, records, first, options.actor))
        await db.update(imports).set({ status, finishedAt: sql`now()` }).where(eq(imports.id, id))
        return { id, status }
      } catch (err) {
        const failure = (err as { statusCode?: number }).statusCode === 413
          ? (err as Error).message
          : `The import stopped on an error${options.mode === 'partial' ? '; the batches written before it stay' : '; nothing landed'}`
        // Best effort: when the database itself failed, this may fail too, and the import stays `running`.
        await db.update(imports).set({ status: 'failed', failure, finishedAt: sql`now()` }).where(eq(imports.id, id)).catch(() => {})
        throw err
      }
    },

    /** An import with a page of its rejected lines, in line order. */
    async get (id: string, query: ImportGetQuery): Promise<Import> {
      const [row] = await db.select().from(imports).where(eq(imports.id, id))
      if (!row) throw new ImportNotFound(id)
      const limit = query.limit ?? 100
      let after: number | undefined
      if (query.cursor !== undefined) {
        const key = decodeCursor(query.cursor, id)
        if (typeof key === 'string' || !/^\d+$/.test(key[0]!)) throw new InvalidCursor(typeof key === 'string' ? key : 'malformed')
        after = Number(key[0])
      }
      const errors = await db.select({ line: importErrors.line, field: importErrors.field, message: importErrors.message }).from(importErrors)
        .where(and(eq(importErrors.importId, id), after === undefined ? undefined : gt(importErrors.line, after)))
        .orderBy(asc(importErrors.line)).limit(limit + 1)
      const more = errors.length > limit
      const page = errors.slice(0, limit)
      return {
        id: row.id,
        format: row.format as ImportFormat,
        mode: row.mode,
        status: row.status,
        counts: { created: row.created, updated: row.updated, unchanged: row.unchanged, rejected: row.rejected },
        progress: { lines_done: row.linesDone, lines_total: row.linesTotal },
        failure: row.failure,
        errors: page,
        errors_next_cursor: more ? encodeCursor(id, [String(page.at(-1)!.line)]) : null,
        created_at: toRfc3339(row.createdAt),
        started_at: row.startedAt === null ? null : toRfc3339(row.startedAt),
        finished_at: row.finishedAt === null ? null : toRfc3339(row.finishedAt)
      }
    }
  }
}
export type ImportService = ReturnType<typeof createImportService>
