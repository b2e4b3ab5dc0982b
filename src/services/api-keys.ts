import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import { v7 as uuidv7 } from 'uuid'
import type { Db } from '../db/client.js'
import { UNIQUE_VIOLATION, pgErrorCode } from '../db/errors.js'
import { apiKeys, type SCOPES } from '../db/schema.js'
import { ApiKeyConflict, ApiKeyNotFound } from '../errors.js'

export type Scope = typeof SCOPES[number]
export interface ApiKeyIdentity { id: string, name: string, scopes: Scope[] }

const KEY_PREFIX = 'mxk_'
const hashOf = (key: string) => createHash('sha256').update(key).digest('hex')

export function createApiKeyService ({ db }: { db: Db }) {
  return {
    /** Creates a key; the secret is in the result only, the database keeps its hash. */
    async create (name: string, scopes: Scope[]): Promise<ApiKeyIdentity & { key: string }> {
      const key = KEY_PREFIX + randomBytes(32).toString('base64url')
      const id = uuidv7()
      await db.insert(apiKeys).values({ id, name, keyHash: hashOf(key), prefix: key.slice(0, 10), scopes }).catch((err: unknown) => {
        if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new ApiKeyConflict(name)
        throw err
      })
      return { id, name, scopes, key }
    },

    /** Revokes the active key of that name; it stops working at once. */
    async revoke (name: string): Promise<void> {
      const rows = await db.update(apiKeys).set({ revokedAt: sql`now()` })
        .where(and(eq(apiKeys.name, name), isNull(apiKeys.revokedAt))).returning({ id: apiKeys.id })
      if (rows.length === 0) throw new ApiKeyNotFound(name)
    },

    /** The active key that a presented secret belongs to, or undefined. */
    async authenticate (presented: string): Promise<ApiKeyIdentity | undefined> {
      if (!presented.startsWith(KEY_PREFIX) || presented.length > 200) return undefined
      const hash = hashOf(presented)
      const [row] = await db.select().from(apiKeys).where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
      // The index lookup already matched; the constant-time comparison keeps that true whatever the index does.
      if (!row || !timingSafeEqual(Buffer.from(row.keyHash), Buffer.from(hash))) return undefined
      // At most one write a minute per key, so that reads stay reads.
      await db.update(apiKeys).set({ lastUsedAt: sql`now()` })
        .where(and(eq(apiKeys.id, row.id), or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`))))
      return { id: row.id, name: row.name, scopes: row.scopes as Scope[] }
    }
  }
}
export type ApiKeyService = ReturnType<typeof createApiKeyService>
