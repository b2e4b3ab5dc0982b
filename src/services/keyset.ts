import { asc, desc, sql, type Placeholder, type SQL } from 'drizzle-orm'
import { decodeCursor, encodeCursor, queryFingerprint, type CursorKey } from '../domain/cursor.js'
import { isCalendarDate } from '../domain/time.js'
import { InvalidCursor } from '../errors.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const TIMESTAMP = /^(\d{4}-\d{2}-\d{2})T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{6}Z$/
const REAL = /^-?\d+(\.\d+)?(e-?\d+)?$/

/** How a sort key's value is typed in SQL and checked when it comes back in a cursor. */
const keyKinds = {
  date: { cast: 'date', valid: isCalendarDate },
  timestamp: { cast: 'timestamptz', valid: (v: string) => { const m = TIMESTAMP.exec(v); return m !== null && isCalendarDate(m[1]!) } },
  text: { cast: 'text', valid: (v: string) => v.length <= 1000 },
  uuid: { cast: 'uuid', valid: (v: string) => UUID.test(v) },
  integer: { cast: 'integer', valid: (v: string) => /^[0-9]{1,9}$/.test(v) },
  real: { cast: 'real', valid: (v: string) => REAL.test(v) && v.length <= 30 }
} as const

/**
 * How a value goes into a query's SQL: as itself, or (for a query built once and run many times) as a named
 * placeholder whose value the caller keeps.
 */
export type Bind = <T>(name: string, value: T) => T | Placeholder
export const asValue: Bind = (_name, value) => value

/** One column of a sort: an SQL expression (a column, or an alias of the query) and its kind. */
export interface SortKey { expression: SQL.Aliased | SQL | { getSQL: () => SQL }, kind: keyof typeof keyKinds }

/** One page of a keyset walk: the rows, and the cursor of the next page. */
export interface KeysetPage<Row> { rows: Row[], nextCursor: string | null }

/**
 * Keyset pagination over a tuple of sort keys whose last member is unique: page N costs what
 * page 1 costs, and rows that are added while a client walks never make another row repeat or vanish.
 */
export class Keyset {
  readonly fingerprint: string
  readonly after: CursorKey | undefined

  constructor (private readonly keys: SortKey[], readonly descending: boolean,
    query: Record<string, unknown> & { cursor?: string | undefined }) {
    this.fingerprint = queryFingerprint(query)
    this.after = query.cursor === undefined ? undefined : this.decode(query.cursor)
  }

  private decode (cursor: string): CursorKey {
    const key = decodeCursor(cursor, this.fingerprint)
    if (key === 'malformed') throw new InvalidCursor('is malformed')
    if (key === 'other-query') throw new InvalidCursor('was issued for other filters or another sort')
    if (key.length !== this.keys.length || this.keys.some((k, i) => !keyKinds[k.kind].valid(key[i]!))) {
      throw new InvalidCursor('is malformed')
    }
    return key
  }

  /** The condition that starts the page after the cursor, or undefined on the first page. */
  condition (bind: Bind = asValue): SQL | undefined {
    const after = this.after
    if (!after) return undefined
    const values = this.keys.map((k, i) => sql`${bind(`after${i}`, after[i])}::${sql.raw(keyKinds[k.kind].cast)}`)
    const operator = sql.raw(this.descending ? '<' : '>')
    return sql`(${sql.join(this.keys.map((k) => sql`${k.expression}`), sql`, `)}) ${operator} (${sql.join(values, sql`, `)})`
  }

  orderBy (): SQL[] {
    const direction = this.descending ? desc : asc
    return this.keys.map((k) => direction(sql`${k.expression}`))
  }

  /** Cuts the one extra row that was fetched to learn whether another page exists. */
  page<Row> (rows: Row[], limit: number, keyOf: (row: Row) => CursorKey): KeysetPage<Row> {
    if (rows.length <= limit) return { rows, nextCursor: null }
    const pageRows = rows.slice(0, limit)
    return { rows: pageRows, nextCursor: encodeCursor(this.fingerprint, keyOf(pageRows[limit - 1]!)) }
  }
}
