import { AsyncLocalStorage } from 'node:async_hooks'
import { drizzle } from 'drizzle-orm/node-postgres'
import { sql } from 'drizzle-orm'
import type pg from 'pg'
import { createDb, queryRows, type Database, type Db, type Executor } from './client.js'
import { isDatabaseUnavailable } from './errors.js'
import * as schema from './schema.js'

// How long a replica's replay position is trusted before a read asks again, and how often a waiting read asks.
const POSITION_TTL_MS = 100
const POLL_MS = 20
// A replica that failed (an error or no answer) is skipped this long, then tried again.
const DEAD_FOR_MS = 5000
const PROBE_TIMEOUT_MS = 1000

const LSN = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/

/** A WAL position (`16/B374D848`) as a number, for comparing; undefined when it is not one. */
export function parseLsn (text: string | undefined | null): bigint | undefined {
  const match = text ? LSN.exec(text) : null
  if (!match) return undefined
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`)
}

/**
 * The position a replica must have replayed to show every write committed so far. The insert position, not the
 * write or flush one: it is past every commit record already made, whatever `synchronous_commit` says.
 */
export async function currentLsn (ex: Executor): Promise<string> {
  const [row] = await queryRows<{ lsn: string }>(ex, sql`SELECT pg_current_wal_insert_lsn()::text AS lsn`)
  return row!.lsn
}

export interface ReplicaLogger {
  warn: (obj: object, msg: string) => void
  info: (obj: object, msg: string) => void
}

export interface Replica {
  /** host:port/database, for logs: never the password. */
  name: string
  pool: pg.Pool
  db: Db
  close: () => Promise<void>
  /** Whether it is a standby (in recovery); a server that is not one serves only reads without a token. */
  standby: boolean
  /** Its replay position when last asked. */
  replayed: bigint | undefined
  /** When it last answered (0: never, or not since it failed). */
  checkedAt: number
  /** Failed; skipped until `deadUntil`, then used again once it answers. */
  down: boolean
  deadUntil: number
  probe: Promise<void> | undefined
}

/** A read that a replica serves; once any of its queries had to go to the primary, the rest go there too. */
interface ReadScope { replica: Replica, onPrimary: boolean }

export interface ReadReplicaOptions {
  urls: string[]
  /** How long a read with a consistency token waits for a replica to catch up before the primary serves it. */
  waitMs: number
  poolMax?: number
  connectTimeoutMs?: number
  statementTimeoutMs?: number
  log: ReplicaLogger
}

export interface ReadReplicas {
  /** The database for services: the replica of the current read, if there is one, else the primary; transactions always the primary. */
  db: Db
  /**
   * A replica that may serve a read: one that has replayed past `token` (waiting up to `waitMs` for one to), or
   * without a token any live one; undefined when the primary must serve it.
   */
  choose: (token: bigint | undefined) => Promise<Replica | undefined>
  /** A read from `replica`: `run` runs work with `db` reading there; `servedBy` says whether every query stayed there. */
  read: (replica: Replica) => { run: <T>(work: () => Promise<T>) => Promise<T>, servedBy: () => 'replica' | 'primary' }
  close: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function describe (url: string): string {
  const { hostname, port, pathname } = new URL(url)
  return `${hostname}:${port || 5432}${pathname}`
}

/** Parses `DATABASE_READ_URLS`: comma-separated `postgres://` URLs; anything else stops the boot. */
export function parseReadUrls (list: string): string[] {
  const urls = list.split(',').map((u) => u.trim()).filter((u) => u !== '')
  for (const url of urls) {
    let valid = false
    try { valid = /^postgres(ql)?:$/.test(new URL(url).protocol) } catch {}
    if (!valid) throw new Error(`DATABASE_READ_URLS: '${describeSafely(url)}' is not a postgres:// URL`)
  }
  return urls
}

const describeSafely = (url: string) => url.replace(/\/\/[^@/]*@/, '//…@')

/**
 * Read replicas behind the primary `database`: reads of a request in `run` go to its replica, every other query
 * (writes, transactions, anything outside a read) to the primary. A replica query that fails is repeated on the
 * primary, and a replica that cannot be reached is skipped for a while, so a replica never causes an error.
 */
export async function createReadReplicas (primary: Database, options: ReadReplicaOptions): Promise<ReadReplicas> {
  if (primary.kind !== 'postgres' || !primary.pool) {
    throw new Error('DATABASE_READ_URLS needs DATABASE_URL: the embedded PGlite database has no replicas')
  }
  const primaryPool = primary.pool
  const reading = new AsyncLocalStorage<ReadScope>()
  const { log } = options

  const markDead = (replica: Replica, err: unknown) => {
    if (!replica.down) log.warn({ replica: replica.name, err }, 'read replica unavailable; reads go elsewhere for a while')
    replica.down = true
    replica.checkedAt = 0
    replica.deadUntil = Date.now() + DEAD_FOR_MS
  }

  const replicas = await Promise.all(options.urls.map(async (url) => {
    const database = await createDb({
      databaseUrl: url,
      dataDir: '',
      poolMax: options.poolMax,
      connectTimeoutMs: options.connectTimeoutMs,
      statementTimeoutMs: options.statementTimeoutMs
    })
    const replica: Replica = {
      name: describe(url),
      pool: database.pool!,
      db: undefined as unknown as Db,
      close: database.close,
      standby: true,
      replayed: undefined,
      checkedAt: 0,
      down: false,
      deadUntil: 0,
      probe: undefined
    }
    // drizzle only calls `query` on a client that is not a pool; transactions never come here (see `db` below).
    const client = {
      async query (config: unknown, values: unknown) {
        const scope = reading.getStore()
        if (scope?.replica === replica && !scope.onPrimary) {
          try {
            return await replica.pool.query(config as pg.QueryConfig, values as unknown[])
          } catch (err) {
            // A read fails the same way on the primary if it was the query's fault; a replica's own trouble
            // (unreachable, cancelled by recovery, a write refused) must not reach the client.
            scope.onPrimary = true
            if (isDatabaseUnavailable(err)) markDead(replica, err)
            else log.warn({ replica: replica.name, err }, 'a read failed on a replica; the primary answers it')
          }
        }
        return primaryPool.query(config as pg.QueryConfig, values as unknown[])
      }
    }
    replica.db = drizzle(client as unknown as pg.Pool, { schema, casing: 'snake_case' }) as unknown as Db
    return replica
  }))

  /** Asks a replica where it is; never rejects: a failure marks it dead. */
  const refresh = (replica: Replica): Promise<void> => {
    replica.probe ??= (async () => {
      let timer: NodeJS.Timeout | undefined
      try {
        const answer = replica.pool.query<{ standby: boolean, replayed: string | null }>(
          'SELECT pg_is_in_recovery() AS standby, pg_last_wal_replay_lsn()::text AS replayed')
        const timeout = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS)
        })
        const { rows: [row] } = await Promise.race([answer, timeout])
        if (replica.down) log.info({ replica: replica.name }, 'read replica back')
        replica.down = false
        replica.standby = row!.standby
        replica.replayed = parseLsn(row!.replayed)
        replica.checkedAt = Date.now()
        replica.deadUntil = 0
      } catch (err) {
        markDead(replica, err)
      } finally {
        clearTimeout(timer)
        replica.probe = undefined
      }
    })()
    return replica.probe
  }

  let turn = 0
  const pick = (candidates: Replica[]) => candidates[turn++ % candidates.length]

  async function choose (token: bigint | undefined): Promise<Replica | undefined> {
    const deadline = Date.now() + options.waitMs
    let maxAge = POSITION_TTL_MS
    for (;;) {
      const now = Date.now()
      // Replicas that might serve this read, now or after catching up; one that is not a standby has no position to compare.
      const live = replicas.filter((r) => r.deadUntil <= now && (token === undefined || r.standby))
      if (live.length === 0) return undefined
      const asking = live.filter((r) => now - r.checkedAt > maxAge).map(refresh)
      // A position only grows, so an old one is a safe lower bound.
      const ready = live.filter((r) => r.checkedAt > 0 && (token === undefined || (r.replayed !== undefined && r.replayed >= token)))
      if (ready.length > 0) return pick(ready)
      const remaining = deadline - Date.now()
      if (remaining <= 0) return undefined
      await (asking.length > 0 ? Promise.race([Promise.all(asking), sleep(remaining)]) : sleep(Math.min(POLL_MS, remaining)))
      maxAge = POLL_MS
    }
  }

  // Like ambientDb: every property is looked up at the time of use, on the replica of the current read if any.
  // A transaction runs on the primary, and so does the rest of its read: the replica is behind what it saw.
  const db = new Proxy(primary.db, {
    get (target, property) {
      const scope = reading.getStore()
      if (scope && property === 'transaction') scope.onPrimary = true
      const base = scope && !scope.onPrimary ? scope.replica.db : target
      const value = Reflect.get(base, property, base)
      return typeof value === 'function' ? value.bind(base) : value
    }
  })

  // No probe before the first read: the boot (compiling every route's schemas) can hold the event loop longer
  // than a probe may take, which would mark a healthy replica dead.

  return {
    db,
    choose,
    read (replica) {
      const scope: ReadScope = { replica, onPrimary: false }
      return { run: (work) => reading.run(scope, work), servedBy: () => scope.onPrimary ? 'primary' : 'replica' }
    },
    async close () {
      await Promise.all(replicas.map((r) => r.probe))
      await Promise.all(replicas.map((r) => r.close()))
    }
  }
}
