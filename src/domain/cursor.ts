import { createHash } from 'node:crypto'

/** Where a page ended: the value of each sort key, the last of which (an id) breaks ties. */
export type CursorKey = string[]

interface CursorPayload { v: 1, f: string, k: CursorKey }

/** A short digest of everything that shapes a listing except its page size, so a cursor stays with its query. */
export function queryFingerprint (query: Record<string, unknown>): string {
  const canonical = Object.keys(query).sort()
    .filter((k) => k !== 'cursor' && k !== 'limit' && query[k] !== undefined)
    .map((k) => [k, query[k]])
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url').slice(0, 16)
}

export function encodeCursor (fingerprint: string, key: CursorKey): string {
  const payload: CursorPayload = { v: 1, f: fingerprint, k: key }
  return Buffer.from(JSON.stringify(payload)).toString('base64url')
}

export type CursorProblem = 'malformed' | 'other-query'

/** The key in a cursor, or why the cursor cannot be used with this query. */
export function decodeCursor (cursor: string, fingerprint: string): CursorKey | CursorProblem {
  let payload: Partial<CursorPayload>
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    return 'malformed'
  }
  const key = payload?.k
  if (payload?.v !== 1 || typeof payload.f !== 'string' || !Array.isArray(key) || key.length === 0 || key.length > 8 ||
    !key.every((v) => typeof v === 'string')) return 'malformed'
  if (payload.f !== fingerprint) return 'other-query'
  return key
}
