import { and, asc, eq, inArray, isNull, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import { queryRows, type Db, type Executor } from '../db/client.js'
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, pgConstraint, pgErrorCode } from '../db/errors.js'
import { companies, events, eventSources, sources } from '../db/schema.js'
import { currentEventShape } from '../domain/snapshots.js'
import { toRfc3339 } from '../domain/time.js'
import { normaliseSourceUrl } from '../domain/urls.js'
import { EventConflict, EventNotFound, InvalidInput, NotDeleted, RestoreConflict } from '../errors.js'
import type { Event, EventCreate, EventList, EventListQuery, EventSort, EventUpdate, Source, SourceInput } from '../schemas/events.js'
import { eventFilterConditions } from './event-filters.js'
import { Keyset, type Bind, type SortKey } from './keyset.js'
import { checkIfMatch } from './preconditions.js'
import { recordRevision, type Actor } from './revisions.js'

type EventRow = typeof events.$inferSelect
type EventFields = Required<Omit<EventCreate, 'sources'>>

/** The event's own columns, as reads show them with its company's name (eventColumns). */
const ownColumns = {
  id: events.id,
  companyId: events.companyId,
  region: events.region,
  service: events.service,
  action: events.action,
  date: events.date,
  datePrecision: events.datePrecision,
  effectiveDate: events.effectiveDate,
  summary: events.summary,
  externalId: events.externalId,
  createdAt: events.createdAt,
  updatedAt: events.updatedAt,
  version: events.version
}
const eventColumns = { ...ownColumns, companyName: companies.name }
/** eventColumns as an insert returns them: the company's name from a subquery (RETURNING has no joins). */
const insertedColumns = { ...ownColumns, companyName: sql<string>`(SELECT ${companies.name} FROM ${companies} WHERE ${companies.id} = ${events.companyId})` }
export type EventView = Pick<EventRow, keyof typeof ownColumns> & { companyName: string }

/** An event as the API shows it, from its row, its company's name and its sources in citation order. */
export const toEvent = (r: EventView, eventSourceList: Source[]): Event => ({
  id: r.id,
  company_id: r.companyId,
  company: { id: r.companyId, name: r.companyName },
  region: r.region,
  service: r.service,
  action: r.action,
  date: r.date,
  date_precision: r.datePrecision,
  effective_date: r.effectiveDate,
  summary: r.summary,
  sources: eventSourceList,
  source_count: eventSourceList.length,
  external_id: r.externalId,
  created_at: toRfc3339(r.createdAt),
  updated_at: toRfc3339(r.updatedAt),
  version: r.version
})

const idKey: SortKey = { expression: events.id, kind: 'uuid' }
const sortKeys: Record<string, SortKey[]> = {
  date: [{ expression: events.date, kind: 'date' }, idKey],
  created_at: [{ expression: events.createdAt, kind: 'timestamp' }, idKey],
  updated_at: [{ expression: events.updatedAt, kind: 'timestamp' }, idKey]
}

const body = (pointer: string, message: string) => new InvalidInput({ in: 'body', pointer, message })

/** Checks what the schema cannot: a date that starts its period, and one source per URL. */
export function checkEventRules (fields: Pick<EventFields, 'date' | 'date_precision'>, sourceList: SourceInput[] | undefined): void {
  if (fields.date_precision === 'month' && !fields.date.endsWith('-01')) {
    throw body('/date', 'must be the first day of its month when date_precision is month')
  }
  if (fields.date_precision === 'year' && !fields.date.endsWith('-01-01')) {
    throw body('/date', 'must be the first day of its year when date_precision is year')
  }
  const seen = new Map<string, number>()
  sourceList?.forEach((s, i) => {
    const url = normaliseSourceUrl(s.url)
    const first = seen.get(url)
    if (first !== undefined) throw body(`/sources/${i}/url`, `names the same document as /sources/${first}/url`)
    seen.set(url, i)
  })
}

export function normaliseFields<T extends Partial<EventFields>> (input: T): T {
  const out = { ...input }
  if (input.region !== undefined) out.region = input.region.toUpperCase()
  if (input.service !== undefined) out.service = input.service.trim()
  return out
}

const columnsOf = (e: Partial<EventFields>) => ({
  companyId: e.company_id,
  region: e.region,
  service: e.service,
  action: e.action,
  date: e.date,
  datePrecision: e.date_precision,
  effectiveDate: e.effective_date,
  summary: e.summary,
  externalId: e.external_id
})

function mapWriteError (err: unknown): never {
  if (pgErrorCode(err) === UNIQUE_VIOLATION && pgConstraint(err) === 'events_external_id_live_key') throw new EventConflict()
  if (pgErrorCode(err) === FOREIGN_KEY_VIOLATION) throw body('/company_id', 'must name an existing company that is not deleted')
  throw err
}

type StoredSource = typeof sources.$inferSelect

/** Stores each source once per normalised URL; returns the sources as stored, in input order, and those that gained a title. */
async function upsertSources (tx: Executor, sourceList: SourceInput[]): Promise<{ stored: StoredSource[], retitled: string[] }> {
  const inputs = sourceList.map((s) => ({ ...s, url: normaliseSourceUrl(s.url) }))
  await tx.insert(sources).values(inputs.map((s) => ({
    id: uuidv7(),
    url: s.url,
    publisher: s.publisher ?? null,
    title: s.title ?? null,
    publishedDate: s.published_date ?? null,
    language: s.language ?? null,
    kind: s.kind ?? null,
    archivedUrl: s.archived_url ?? null,
    license: s.license ?? null
  }))).onConflictDoNothing({ target: sources.url })
  // Locked in URL order, so that two writers citing the same sources cannot deadlock.
  const stored = await tx.select().from(sources).where(inArray(sources.url, inputs.map((s) => s.url)))
    .orderBy(asc(sources.url)).for('update')
  const byUrl = new Map(stored.map((s) => [s.url, s]))
  const retitled: string[] = []
  for (const input of inputs) {
    const row = byUrl.get(input.url)!
    // A source cited again keeps what it says and only gains what it lacked, so that one event's
    // writer cannot rewrite the source under other events.
    const merged = {
      publisher: row.publisher ?? input.publisher ?? null,
      title: row.title ?? input.title ?? null,
      publishedDate: row.publishedDate ?? input.published_date ?? null,
      language: row.language ?? input.language ?? null,
      kind: row.kind ?? input.kind ?? null,
      archivedUrl: row.archivedUrl ?? input.archived_url ?? null,
      license: row.license ?? input.license ?? null
    }
    if ((Object.keys(merged) as (keyof typeof merged)[]).every((k) => merged[k] === row[k])) continue
    await tx.update(sources).set({ ...merged, updatedAt: sql`now()` }).where(eq(sources.id, row.id))
    if (merged.title !== row.title) retitled.push(row.id)
    Object.assign(row, merged)
  }
  return { stored: inputs.map((s) => byUrl.get(s.url)!), retitled }
}

/** Makes sources as stored (upsertSources) the citations of an event, in order, with the quotes of `sourceList`. */
async function insertCitations (tx: Executor, eventId: string, stored: StoredSource[], sourceList: SourceInput[]): Promise<void> {
  await tx.insert(eventSources).values(stored.map((source, position) => ({
    eventId, sourceId: source.id, position, quote: sourceList[position]!.quote ?? null
  })))
}

/** The events citing sources whose title changed, whose search documents (which hold the titles) must be made again. */
async function eventsCiting (tx: Executor, retitled: string[]): Promise<string[]> {
  if (retitled.length === 0) return []
  return (await tx.selectDistinct({ id: eventSources.eventId }).from(eventSources).where(inArray(eventSources.sourceId, retitled))).map((r) => r.id)
}

const citedSources = (stored: StoredSource[], sourceList: SourceInput[]) =>
  stored.map((source, position) => toSource({ ...source, quote: sourceList[position]!.quote ?? null }))

/** The sources' part of an event's search document: their titles and its quotes, in citation order, as refresh_event_search reads them. */
export function sourceDocument (cites: Array<{ title: string | null, quote: string | null }>): string | null {
  const doc = cites.map((c) => [c.title, c.quote].filter((p) => p !== null).join(' ')).filter((d) => d !== '').join(' ')
  return doc === '' ? null : doc
}

/** An event's search document (event_search_document), for its insert or update: the row is not written twice. */
function searchDocument (companyId: string, service: string, summary: string | null, doc: string | null) {
  return sql`event_search_document((SELECT ${companies.name} || ${companies.aliases} FROM ${companies} WHERE ${companies.id} = ${companyId}),
    ${service}, ${summary}, ${doc})`
}

/** A source as an event shows it, with the event's quote of it. */
const toSource = (r: Omit<StoredSource, 'id' | 'createdAt' | 'updatedAt'> & { quote: string | null }): Source => ({
  url: r.url,
  publisher: r.publisher,
  title: r.title,
  published_date: r.publishedDate,
  language: r.language,
  quote: r.quote,
  kind: r.kind,
  archived_url: r.archivedUrl,
  license: r.license
})

async function refreshSearch (tx: Executor, eventIds: string[]): Promise<void> {
  await tx.execute(sql`SELECT refresh_event_search(ARRAY[${sql.join(eventIds.map((id) => sql`${id}`), sql`, `)}]::uuid[])`)
}

const sourceColumns = {
  eventId: eventSources.eventId,
  url: sources.url,
  publisher: sources.publisher,
  title: sources.title,
  publishedDate: sources.publishedDate,
  language: sources.language,
  kind: sources.kind,
  archivedUrl: sources.archivedUrl,
  license: sources.license,
  quote: eventSources.quote
}

/** The sources of some events, in citation order: one query, whatever the number of events, so it can be prepared. */
const sourcesQuery = (ex: Executor) => ex.select(sourceColumns).from(eventSources).innerJoin(sources, eq(sources.id, eventSources.sourceId))
  .where(sql`${eventSources.eventId} = any(${sql.placeholder('ids')}::uuid[])`)
  .orderBy(asc(eventSources.eventId), asc(eventSources.position))

/** One live event by id, with its company's name. */
const eventQuery = (ex: Executor) => ex.select(eventColumns).from(events).innerJoin(companies, eq(companies.id, events.companyId))
  .where(and(eq(events.id, sql.placeholder('id')), isNull(events.deletedAt)))

type SourceRow = Awaited<ReturnType<ReturnType<typeof sourcesQuery>['execute']>>[number]
type EventQueryRow = Awaited<ReturnType<ReturnType<typeof eventQuery>['execute']>>[number]
interface ReadQueries {
  sources: { execute: (values: { ids: string[] }) => Promise<SourceRow[]> }
  event: { execute: (values: { id: string }) => Promise<EventQueryRow[]> }
}

/**
 * A value made once per database that `db` reads from at the time of the call: the request's replica or the primary
 * (db/replicas.ts), or a transaction joined by the request (db/ambient.ts). What drizzle prepares keeps the
 * connection pool or transaction it was made on.
 */
function perDatabase<T> (db: Db, make: () => T): () => T {
  const made = new WeakMap<object, T>()
  return () => {
    const session = db._.session
    let value = made.get(session)
    if (value === undefined) made.set(session, value = make())
    return value
  }
}

/** The queries reads run on every request: prepared once per database; in a transaction passed as `ex`, built there. */
function readQueries (db: Db): (ex: Executor) => ReadQueries {
  const prepared = perDatabase(db, () => ({ sources: sourcesQuery(db).prepare('event_sources_of'), event: eventQuery(db).prepare('event_by_id') }))
  return (ex) => ex === db ? prepared() : { sources: sourcesQuery(ex), event: eventQuery(ex) }
}

async function sourcesOf (queries: ReadQueries, eventIds: string[]): Promise<Map<string, Source[]>> {
  const bySource = new Map<string, Source[]>(eventIds.map((id) => [id, []]))
  if (eventIds.length === 0) return bySource
  for (const r of await queries.sources.execute({ ids: eventIds })) bySource.get(r.eventId)!.push(toSource(r))
  return bySource
}

type ListQuery = ReturnType<ReturnType<typeof listQuery>['prepare']>
const listQuery = (db: Db) => db.select(eventColumns).from(events).innerJoin(companies, eq(companies.id, events.companyId))
// Shapes of list query (see list) kept built per database; the rest are built again when they come back.
const LIST_SHAPES = 200

/** The list query of each shape, built once per database: building it with drizzle cost a tenth of a list request's CPU. */
function listQueries (db: Db): (shape: string, build: () => ListQuery) => ListQuery {
  const shapesOf = perDatabase(db, () => new Map<string, ListQuery>())
  return (shape, build) => {
    const shapes = shapesOf()
    let query = shapes.get(shape)
    if (!query) {
      if (shapes.size >= LIST_SHAPES) shapes.delete(shapes.keys().next().value!)
      query = build()
      shapes.set(shape, query)
    }
    return query
  }
}

export function createEventService ({ db }: { db: Db }) {
  const queriesFor = readQueries(db)
  const listQueryFor = listQueries(db)

  /** An event with its sources, from its row: by the stored id, as the caller's may be upper-case. */
  async function withSources (queries: ReadQueries, row: EventQueryRow): Promise<Event> {
    return toEvent(row, (await sourcesOf(queries, [row.id])).get(row.id)!)
  }

  async function find (ex: Executor, id: string): Promise<Event | undefined> {
    const queries = queriesFor(ex)
    const [row] = await queries.event.execute({ id })
    return row && withSources(queries, row)
  }

  /** Locks a live event for a write and reads it as it is before the write. */
  async function lockLive (tx: Executor, id: string, ifMatch: string | undefined): Promise<Event> {
    const [row] = await eventQuery(tx).for('update', { of: events }).prepare('').execute({ id })
    if (!row) throw new EventNotFound(id)
    checkIfMatch(ifMatch, row.version)
    return withSources(queriesFor(tx), row)
  }

  /** The events as recorded, in this order, from the shadow table that a `known_at` read runs on (see known-at.ts). */
  async function recordedSnapshots (ids: string[]): Promise<Event[]> {
    if (ids.length === 0) return []
    const rows = await queryRows<{ id: string, snapshot: Record<string, unknown> }>(db,
      sql`SELECT id, snapshot FROM ${events} WHERE id IN (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)})`)
    const byId = new Map(rows.map((r) => [r.id, currentEventShape(r.snapshot) as Event]))
    return ids.map((id) => byId.get(id)!)
  }

  return {
    /** One live event with its company and sources; deleted ones are not found. */
    async get (id: string, ex: Executor = db): Promise<Event> {
      const event = await find(ex, id)
      if (!event) throw new EventNotFound(id)
      return event
    },

    /** Every live event of a company, by region, then in posture order (date, when recorded, id). */
    async allOfCompany (companyId: string): Promise<Event[]> {
      const rows = await db.select(eventColumns).from(events).innerJoin(companies, eq(companies.id, events.companyId))
        .where(and(eq(events.companyId, companyId), isNull(events.deletedAt)))
        .orderBy(asc(events.region), asc(events.date), asc(events.createdAt), asc(events.id))
      const sourceLists = await sourcesOf(queriesFor(db), rows.map((r) => r.id))
      return rows.map((r) => toEvent(r, sourceLists.get(r.id)!))
    },

    /** A keyset page of live events under the contract's filters. */
    async list (query: EventListQuery): Promise<EventList> {
      const sort: EventSort = query.sort ?? '-date'
      const limit = query.limit ?? 50
      const keyset = new Keyset(sortKeys[sort.replace('-', '')]!, sort.startsWith('-'), { ...query, sort })
      const values: Record<string, unknown> = { limit: limit + 1 }
      const bind: Bind = (name, value) => {
        values[name] = value
        return sql.placeholder(name)
      }
      const conditions = [...eventFilterConditions(query, bind), keyset.condition(bind)]
      // The names of the bound values (which filters, how many values each, a cursor or not) and the sort make the SQL.
      const rows = await listQueryFor(`${sort} ${Object.keys(values).join(',')}`, () =>
        listQuery(db).where(and(...conditions)).orderBy(...keyset.orderBy()).limit(sql.placeholder('limit'))
          // Unnamed: PostgreSQL plans each run for its values (a generic plan would pick one index for every `q`).
          .prepare('')).execute(values)
      const page = keyset.page(rows, limit, (r) => {
        if (sort.endsWith('date')) return [r.date, r.id]
        return [toRfc3339(sort.endsWith('created_at') ? r.createdAt : r.updatedAt), r.id]
      })
      if (query.known_at !== undefined) return { data: await recordedSnapshots(page.rows.map((r) => r.id)), next_cursor: page.nextCursor }
      const sourceLists = await sourcesOf(queriesFor(db), page.rows.map((r) => r.id))
      return { data: page.rows.map((r) => toEvent(r, sourceLists.get(r.id)!)), next_cursor: page.nextCursor }
    },

    async create (input: EventCreate, actor: Actor): Promise<Event> {
      const fields = normaliseFields({ date_precision: 'day' as const, ...input })
      checkEventRules(fields, input.sources)
      return db.transaction(async (tx) => {
        const id = uuidv7()
        // The sources first, so that the insert holds the search document (their titles are part of it); the event as
        // stored comes back from the insert: no read after the write, and no second write of the new row.
        const { stored, retitled } = await upsertSources(tx, input.sources)
        const cited = citedSources(stored, input.sources)
        const [row] = await tx.insert(events).values({
          id,
          ...columnsOf(fields),
          companyId: fields.company_id,
          region: fields.region,
          service: fields.service,
          action: fields.action,
          date: fields.date,
          search: searchDocument(fields.company_id, fields.service, fields.summary ?? null, sourceDocument(cited))
        }).returning(insertedColumns).catch(mapWriteError)
        // Other events citing a source that gained a title here; asked before this one cites it.
        const citing = await eventsCiting(tx, retitled)
        await insertCitations(tx, id, stored, input.sources)
        if (citing.length > 0) await refreshSearch(tx, citing)
        const event = toEvent(row!, cited)
        await recordRevision(tx, actor, { resourceType: 'event', resourceId: id, operation: 'created', version: 1, data: event })
        return event
      })
    },

    /** Applies a merge patch; a patch that changes nothing keeps the version. */
    async update (id: string, patch: EventUpdate, ifMatch: string | undefined, actor: Actor): Promise<Event> {
      const changes = normaliseFields(patch)
      return db.transaction(async (tx) => {
        const before = await lockLive(tx, id, ifMatch)
        checkEventRules({ date: changes.date ?? before.date, date_precision: changes.date_precision ?? before.date_precision }, changes.sources)
        const changed = (Object.keys(changes) as (keyof EventUpdate)[])
          .filter((k) => JSON.stringify(changes[k]) !== JSON.stringify(before[k]))
        if (changed.length === 0) return before
        const { sources: sourceList, ...fields } = changes
        // As in create, the sources first and the search document in the write itself: the row is written once.
        const relinked = sourceList === undefined ? undefined : await upsertSources(tx, sourceList)
        const cited = relinked === undefined ? before.sources : citedSources(relinked.stored, sourceList!)
        const searched = relinked !== undefined || changed.some((k) => k === 'company_id' || k === 'service' || k === 'summary')
        const [row] = await tx.update(events)
          .set({
            ...columnsOf(fields),
            version: before.version + 1,
            updatedAt: sql`now()`,
            ...(searched
              ? {
                  search: searchDocument(fields.company_id ?? before.company_id, fields.service ?? before.service,
                    fields.summary === undefined ? before.summary : fields.summary, sourceDocument(cited))
                }
              : {})
          })
          .where(eq(events.id, id)).returning(insertedColumns).catch(mapWriteError)
        if (relinked !== undefined) {
          const citing = (await eventsCiting(tx, relinked.retitled)).filter((other) => other !== id)
          await tx.delete(eventSources).where(eq(eventSources.eventId, id))
          await insertCitations(tx, id, relinked.stored, sourceList!)
          if (citing.length > 0) await refreshSearch(tx, citing)
        }
        const event = toEvent(row!, cited)
        await recordRevision(tx, actor, { resourceType: 'event', resourceId: id, operation: 'updated', version: event.version, data: event })
        return event
      })
    },

    /** Undoes a soft delete: the event is live again, as it was, with a new version. */
    async restore (id: string, actor: Actor): Promise<Event> {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(events).where(eq(events.id, id)).for('update')
        if (!row) throw new EventNotFound(id)
        if (row.deletedAt === null) throw new NotDeleted('event', id)
        await tx.update(events).set({ deletedAt: null, version: row.version + 1, updatedAt: sql`now()` }).where(eq(events.id, id))
          .catch((err: unknown) => {
            if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new RestoreConflict('Another live event has taken its external_id')
            if (pgErrorCode(err) === FOREIGN_KEY_VIOLATION) throw new RestoreConflict('Its company is deleted; restore the company first')
            throw err
          })
        const event = (await find(tx, id))!
        await recordRevision(tx, actor, { resourceType: 'event', resourceId: id, operation: 'restored', version: event.version, data: event })
        return event
      })
    },

    /** Soft delete: the event disappears from reads and its history stays. */
    async remove (id: string, ifMatch: string | undefined, actor: Actor): Promise<void> {
      await db.transaction(async (tx) => {
        const before = await lockLive(tx, id, ifMatch)
        const version = before.version + 1
        await tx.update(events).set({ deletedAt: sql`now()`, version, updatedAt: sql`now()` }).where(eq(events.id, id))
        await recordRevision(tx, actor, { resourceType: 'event', resourceId: id, operation: 'deleted', version, data: { ...before, version } })
      })
    }
  }
}
export type EventService = ReturnType<typeof createEventService>
