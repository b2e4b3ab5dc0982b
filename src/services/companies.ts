import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import type { Db, Executor } from '../db/client.js'
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, pgConstraint, pgErrorCode } from '../db/errors.js'
import { companies, companyNames, events } from '../db/schema.js'
import { escapeLike } from '../domain/like.js'
import { toRfc3339 } from '../domain/time.js'
import { CompanyConflict, CompanyHasEvents, CompanyNotFound, InvalidInput, NotDeleted, RestoreConflict } from '../errors.js'
import type { Company, CompanyCreate, CompanyList, CompanyListQuery, CompanySort, CompanyUpdate } from '../schemas/companies.js'
import { Keyset, type SortKey } from './keyset.js'
import { checkIfMatch } from './preconditions.js'
import { recordRevision, type Actor } from './revisions.js'

type CompanyRow = typeof companies.$inferSelect
type CompanyFields = Omit<CompanyCreate, 'aliases'> & { aliases: string[] }

export const toCompany = (r: CompanyRow): Company => ({
  id: r.id,
  name: r.name,
  aliases: r.aliases,
  country: r.country,
  sector: r.sector,
  lei: r.lei,
  wikidata_id: r.wikidataId,
  website: r.website,
  created_at: toRfc3339(r.createdAt),
  updated_at: toRfc3339(r.updatedAt),
  version: r.version
})

/** Trims names and upper-cases codes, as the contract says input is normalised. */
function normalise<T extends CompanyUpdate> (input: T): T {
  const out: T = { ...input }
  if (input.name !== undefined) out.name = input.name.trim()
  if (input.aliases !== undefined) out.aliases = input.aliases.map((a) => a.trim())
  if (input.country) out.country = input.country.toUpperCase()
  if (input.lei) out.lei = input.lei.toUpperCase()
  if (input.sector) out.sector = input.sector.trim()
  return out
}

const columnsOf = (c: Partial<CompanyFields>) => ({
  name: c.name,
  aliases: c.aliases,
  country: c.country,
  sector: c.sector,
  lei: c.lei,
  wikidataId: c.wikidata_id,
  website: c.website
})

function mapWriteError (err: unknown): never {
  if (pgErrorCode(err) === UNIQUE_VIOLATION) {
    const constraint = pgConstraint(err)
    if (constraint === 'companies_lei_live_key') throw new CompanyConflict('lei')
    if (constraint === 'companies_wikidata_id_live_key') throw new CompanyConflict('wikidata_id')
  }
  throw err
}

export function createCompanyService ({ db }: { db: Db }) {
  async function lockLive (ex: Executor, id: string, ifMatch: string | undefined): Promise<CompanyRow> {
    const [row] = await ex.select().from(companies)
      .where(and(eq(companies.id, id), isNull(companies.deletedAt))).for('update')
    if (!row) throw new CompanyNotFound(id)
    checkIfMatch(ifMatch, row.version)
    return row
  }

  return {
    /** One live company; deleted ones are not found. */
    async get (id: string, ex: Executor = db): Promise<Company> {
      const [row] = await ex.select().from(companies).where(and(eq(companies.id, id), isNull(companies.deletedAt)))
      if (!row) throw new CompanyNotFound(id)
      return toCompany(row)
    },

    /**
     * A keyset page of live companies. With `q`, companies whose name or an alias contains it (ignoring case and
     * accents) or resembles it (trigram similarity of name keys), ranked by score unless another sort is asked for.
     */
    async list (query: CompanyListQuery): Promise<CompanyList> {
      const sort: CompanySort = query.sort ?? (query.q === undefined ? 'name' : 'relevance')
      if (sort === 'relevance' && query.q === undefined) throw new InvalidInput({ in: 'querystring', pointer: '/sort', message: 'relevance needs q' })
      const limit = query.limit ?? 50
      const key = sql`name_key(${query.q ?? ''})`
      // Three indexable ways to match, united rather than OR-ed so that each can use its trigram index.
      const hits = query.q === undefined
        ? undefined
        : sql`${companies.id} IN (
            SELECT id FROM ${companies} WHERE name_search LIKE '%' || fold_text(${escapeLike(query.q)}) || '%'
            UNION SELECT company_id FROM ${companyNames} WHERE key % ${key}
            UNION SELECT company_id FROM ${companyNames} WHERE ${key} <% key)`
      const ranked = db.select({
        ...getTableColumns(companies),
        score: sql<number>`coalesce((SELECT max(greatest(similarity(n.key, ${key}), word_similarity(${key}, n.key)))
          FROM ${companyNames} n WHERE n.company_id = "companies"."id"), 0)::real`.as('score'),
        // Breaks ties of score: a name that is the query itself ranks before one that merely contains it.
        similarity: sql<number>`coalesce((SELECT max(similarity(n.key, ${key}))
          FROM ${companyNames} n WHERE n.company_id = "companies"."id"), 0)::real`.as('similarity')
      }).from(companies).where(and(
        isNull(companies.deletedAt),
        query.country === undefined ? undefined : eq(companies.country, query.country.toUpperCase()),
        hits
      )).as('ranked')
      const sortKeys: Record<string, SortKey[]> = {
        relevance: [{ expression: ranked.score, kind: 'real' }, { expression: ranked.similarity, kind: 'real' }, { expression: ranked.id, kind: 'uuid' }],
        name: [{ expression: ranked.name, kind: 'text' }, { expression: ranked.id, kind: 'uuid' }],
        created_at: [{ expression: ranked.createdAt, kind: 'timestamp' }, { expression: ranked.id, kind: 'uuid' }],
        updated_at: [{ expression: ranked.updatedAt, kind: 'timestamp' }, { expression: ranked.id, kind: 'uuid' }]
      }
      const keyset = new Keyset(sortKeys[sort.replace('-', '')]!, sort.startsWith('-') || sort === 'relevance', { ...query, sort })
      const rows = await db.select().from(ranked).where(keyset.condition()).orderBy(...keyset.orderBy()).limit(limit + 1)
      const page = keyset.page(rows, limit, (r) => {
        if (sort === 'relevance') return [String(r.score), String(r.similarity), r.id]
        return [sort.endsWith('name') ? r.name : toRfc3339(sort.endsWith('created_at') ? r.createdAt : r.updatedAt), r.id]
      })
      return { data: page.rows.map(toCompany), next_cursor: page.nextCursor }
    },

    async create (input: CompanyCreate, actor: Actor): Promise<Company> {
      const fields = normalise(input)
      return db.transaction(async (tx) => {
        const [row] = await tx.insert(companies).values({ id: uuidv7(), ...columnsOf({ aliases: [], ...fields }), name: fields.name })
          .returning().catch(mapWriteError)
        const company = toCompany(row!)
        await recordRevision(tx, actor, { resourceType: 'company', resourceId: company.id, operation: 'created', version: 1, data: company })
        return company
      })
    },

    /** Applies a merge patch; a patch that changes nothing keeps the version. */
    async update (id: string, patch: CompanyUpdate, ifMatch: string | undefined, actor: Actor): Promise<Company> {
      const changes = normalise(patch)
      return db.transaction(async (tx) => {
        const current = await lockLive(tx, id, ifMatch)
        const before = toCompany(current)
        const changed = (Object.keys(changes) as (keyof CompanyUpdate)[])
          .filter((k) => JSON.stringify(changes[k]) !== JSON.stringify(before[k]))
        if (changed.length === 0) return before
        const [row] = await tx.update(companies)
          .set({ ...columnsOf(changes), version: sql`${companies.version} + 1`, updatedAt: sql`now()` })
          .where(eq(companies.id, id)).returning().catch(mapWriteError)
        if (changed.includes('name') || changed.includes('aliases')) {
          await tx.execute(sql`SELECT refresh_event_search(ARRAY(
            SELECT id FROM ${events} WHERE ${events.companyId} = ${id} AND ${events.deletedAt} IS NULL))`)
        }
        const company = toCompany(row!)
        await recordRevision(tx, actor, { resourceType: 'company', resourceId: id, operation: 'updated', version: company.version, data: company })
        return company
      })
    },

    /** Undoes a soft delete: the company is live again, as it was, with a new version. */
    async restore (id: string, actor: Actor): Promise<Company> {
      return db.transaction(async (tx) => {
        const [current] = await tx.select().from(companies).where(eq(companies.id, id)).for('update')
        if (!current) throw new CompanyNotFound(id)
        if (current.deletedAt === null) throw new NotDeleted('company', id)
        const [row] = await tx.update(companies)
          .set({ deletedAt: null, version: current.version + 1, updatedAt: sql`now()` })
          .where(eq(companies.id, id)).returning()
          .catch((err: unknown) => {
            if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new RestoreConflict('Another live company has taken its lei or wikidata_id')
            throw err
          })
        const company = toCompany(row!)
        await recordRevision(tx, actor, { resourceType: 'company', resourceId: id, operation: 'restored', version: company.version, data: company })
        return company
      })
    },

    /** Soft delete; a company that still has live events cannot go. */
    async remove (id: string, ifMatch: string | undefined, actor: Actor): Promise<void> {
      await db.transaction(async (tx) => {
        const current = await lockLive(tx, id, ifMatch)
        const [row] = await tx.update(companies)
          .set({ deletedAt: sql`now()`, version: current.version + 1, updatedAt: sql`now()` })
          .where(eq(companies.id, id)).returning()
          .catch((err: unknown) => {
            if (pgErrorCode(err) === FOREIGN_KEY_VIOLATION) throw new CompanyHasEvents(id)
            throw err
          })
        await recordRevision(tx, actor, { resourceType: 'company', resourceId: id, operation: 'deleted', version: row!.version, data: toCompany(row!) })
      })
    }
  }
}
export type CompanyService = ReturnType<typeof createCompanyService>
