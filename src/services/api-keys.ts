import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, eq, isNotNull, isNull, lt, or, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import type { Db } from '../db/client.js'
import { UNIQUE_VIOLATION, pgErrorCode } from '../db/errors.js'
import { apiKeys, type SCOPES } from '../db/schema.js'
import { toRfc3339 } from '../domain/time.js'
import { ApiKeyConflict, ApiKeyNotFound } from '../errors.js'
import type { ApiKey, ApiKeyCreated, ApiKeyList, ApiKeyListQuery } from '../schemas/api-keys.js'
import { Keyset } from './keyset.js'

export type Scope = typeof SCOPES[number]
export interface ApiKeyIdentity { id: string, name: string, scopes: Scope[] }

const KEY_PREFIX = 'mxk_'
const hashOf = (key: string) => createHash('sha256').update(key).digest('hex')
const orNull = (timestamp: string | null) => timestamp === null ? null : toRfc3339(timestamp)

type PublicRow = Omit<typeof apiKeys.$inferSelect, 'keyHash'>
// Every column but the hash, which never leaves this service.
const publicColumns = {
  id: apiKeys.id,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  scopes: apiKeys.scopes,
  createdAt: apiKeys.createdAt,
  lastUsedAt: apiKeys.lastUsedAt,
  revokedAt: apiKeys.revokedAt
}

const toApiKey = (r: PublicRow): ApiKey => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  scopes: r.scopes as Scope[],
  created_at: toRfc3339(r.createdAt),
  last_used_at: orNull(r.lastUsedAt),
  revoked_at: orNull(r.revokedAt)
})

/** How precisely `last_used_at` is kept: the column's promise is "to the minute". */
const LAST_USED_RESOLUTION_MS = 60_000

export function createApiKeyService ({ db }: { db: Db }) {
  // Every authenticated request runs this: prepared once, not rebuilt by the query builder each time.
  const activeKeyByHash = db.select().from(apiKeys)
    .where(and(eq(apiKeys.keyHash, sql.placeholder('hash')), isNull(apiKeys.revokedAt))).prepare('active_api_key_by_hash')
  // When this process last recorded each key's use: within the resolution, the update would change nothing.
  const lastRecorded = new Map<string, number>()
  return {
    /** Creates a key; the secret is in the result only, the database keeps its hash. */
    async create (name: string, scopes: Scope[]): Promise<ApiKeyCreated> {
      const key = KEY_PREFIX + randomBytes(32).toString('base64url')
      const [row] = await db.insert(apiKeys)
        .values({ id: uuidv7(), name: name.trim(), keyHash: hashOf(key), prefix: key.slice(0, 10), scopes })
        .returning().catch((err: unknown) => {
          if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new ApiKeyConflict(name.trim())
          throw err
        })
      return { ...toApiKey(row!), key }
    },

    /** A keyset page of keys in creation order (ids are UUIDv7), optionally only the revoked or the active ones. */
    async list (query: ApiKeyListQuery): Promise<ApiKeyList> {
      const limit = query.limit ?? 50
      const keyset = new Keyset([{ expression: apiKeys.id, kind: 'uuid' }], false, query)
      const revoked = query.revoked === undefined ? undefined : query.revoked ? isNotNull(apiKeys.revokedAt) : isNull(apiKeys.revokedAt)
      const rows = await db.select(publicColumns).from(apiKeys).where(and(revoked, keyset.condition()))
        .orderBy(...keyset.orderBy()).limit(limit + 1)
      const page = keyset.page(rows, limit, (r) => [r.id])
      return { data: page.rows.map(toApiKey), next_cursor: page.nextCursor }
    },

    /** One key, revoked or not. */
    async get (id: string): Promise<ApiKey> {
      const [row] = await db.select(publicColumns).from(apiKeys).where(eq(apiKeys.id, id))
      if (!row) throw new ApiKeyNotFound(`API key ${id} not found`)
      return toApiKey(row)
    },

    /** Revokes an active key by id; the very next request with it is refused, on every instance. */
    async revokeById (id: string): Promise<void> {
      const rows = await db.update(apiKeys).set({ revokedAt: sql`now()` })
        .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id })
      if (rows.length === 0) throw new ApiKeyNotFound(`No active API key ${id}`)
    },

    /** Revokes the active key of that name; it stops working at once. */
    async revoke (name: string): Promise<void> {
      const rows = await db.update(apiKeys).set({ revokedAt: sql`now()` })
        .where(and(eq(apiKeys.name, name), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id })
      if (rows.length === 0) throw new ApiKeyNotFound(`No active API key named ${name}`)
    },

    /** The active key that a presented secret belongs to, or undefined. */
    async authenticate (presented: string): Promise<ApiKeyIdentity | undefined> {
      if (!presented.startsWith(KEY_PREFIX) || presented.length > 200) return undefined
      const hash = hashOf(presented)
      const [row] = await activeKeyByHash.execute({ hash })
      // The index lookup already matched; the constant-time comparison keeps that true whatever the index does.
      if (!row || !timingSafeEqual(Buffer.from(row.keyHash), Buffer.from(hash))) return undefined
      // At most one write a minute per key, so that reads stay reads; and no round trip to find that out.
      const now = Date.now()
      if (now - (lastRecorded.get(row.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
        lastRecorded.set(row.id, now)
        await db.update(apiKeys).set({ lastUsedAt: sql`now()` })
          .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
      }
      return { id: row.id, name: row.name, scopes: row.scopes as Scope[] }
    }
  }
}
export type ApiKeyService = ReturnType<typeof createApiKeyService>
