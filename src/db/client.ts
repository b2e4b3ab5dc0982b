import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { PGlite, type PGliteOptions } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import { unaccent } from '@electric-sql/pglite/contrib/unaccent'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core'
import type { ExtractTablesWithRelations, SQL } from 'drizzle-orm'
import pg from 'pg'
import { lockDataDir } from './data-dir-lock.js'
import * as schema from './schema.js'

type Schema = typeof schema
/** The one drizzle type that services see, whichever driver runs underneath. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>
export type Executor = Db | Tx

export interface DatabaseOptions {
  /** A PostgreSQL server; without it an embedded PGlite database is used. */
  databaseUrl?: string | undefined
  /** Where PGlite keeps its files; `memory://` keeps them in memory. */
  dataDir: string
  /** A PGlite data directory image (from `dumpDataDir`) to start from, instead of an empty database. */
  pgliteImage?: Blob | undefined
  poolMax?: number
  connectTimeoutMs?: number
  statementTimeoutMs?: number
}

export interface Database {
  db: Db
  kind: 'postgres' | 'pglite'
  /** PGlite only: the instance, for dumps and migrations. */
  pglite?: PGlite
  /** Postgres only: the pool, for migrations under an advisory lock. */
  pool?: pg.Pool
  close: () => Promise<void>
}

const pgliteExtensions = { pg_trgm: pgTrgm, unaccent }

/** Builds the drizzle database over a pg pool (DATABASE_URL) or an embedded PGlite instance. */
export async function createDb (options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl) return createPostgres(options)
  return createPglite(options)
}

function createPostgres (options: DatabaseOptions): Database {
  const statementTimeout = options.statementTimeoutMs ?? 5000
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolMax ?? 10,
    // pg waits forever for a connection by default; a down database must fail fast into a 503.
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    query_timeout: statementTimeout + 1000,
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout * 2,
    options: '-c TimeZone=UTC'
  })
  // A backend that dies while a client is checked out emits 'error' on the client, not the pool;
  // unhandled, it would crash the process. The failed query itself still rejects and maps to a 503.
  pool.on('connect', (client) => { client.on('error', () => {}) })
  pool.on('error', () => {})
  const db = drizzlePg(pool, { schema, casing: 'snake_case' }) as unknown as Db
  return { db, kind: 'postgres', pool, close: () => pool.end() }
}

type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>
// Node has WebAssembly; the ES libraries our type check uses do not declare it.
const { compile } = (globalThis as unknown as { WebAssembly: { compile: (bytes: Uint8Array) => Promise<WasmModule> } }).WebAssembly
let pgliteRuntime: Promise<{ pgliteWasmModule: WasmModule, fsBundle: Blob }> | undefined

/**
 * PGlite's WebAssembly, compiled once per process, and its file-system bundle, read once: the test suite opens
 * hundreds of embedded databases, and PGlite does both again on every open (a third of its time).
 */
function loadPgliteRuntime () {
  pgliteRuntime ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
    const [wasm, bundle] = await Promise.all([readFile(join(dist, 'pglite.wasm')), readFile(join(dist, 'pglite.data'))])
    return { pgliteWasmModule: await compile(wasm), fsBundle: new Blob([bundle]) }
  })()
  return pgliteRuntime
}

/** The session settings every PGlite connection runs with (the server gets the same through its connection options). */
export async function prepareSession (pglite: PGlite): Promise<void> {
  await pglite.exec("SET TimeZone = 'UTC'")
}

async function createPglite (options: DatabaseOptions): Promise<Database> {
  const inMemory = options.dataDir.startsWith('memory://')
  let unlock = async () => {}
  if (!inMemory) {
    await mkdir(options.dataDir, { recursive: true })
    unlock = await lockDataDir(options.dataDir)
  }
  const pglite = await PGlite.create({
    dataDir: inMemory ? undefined : options.dataDir,
    loadDataDir: options.pgliteImage,
    extensions: pgliteExtensions,
    ...await loadPgliteRuntime()
  }).catch(async (err: unknown) => {
    await unlock()
    throw err
  })
  await prepareSession(pglite)
  const db = drizzlePglite(pglite, { schema, casing: 'snake_case' }) as unknown as Db
  return { db, kind: 'pglite', pglite, close: async () => { await pglite.close(); await unlock() } }
}

/** Rows of a raw SQL query; both drivers answer `{ rows }`, which the shared drizzle type leaves unknown. */
export async function queryRows<Row> (ex: Executor, query: SQL): Promise<Row[]> {
  const result = await ex.execute(query) as unknown as { rows: Row[] }
  return result.rows
}

/**
 * Runs `work` on one connection for its whole length, so that session state (temporary tables) lasts across
 * its transactions: a connection of the pool on PostgreSQL, the one connection of PGlite.
 */
export async function withSession<T> (database: Database, work: (db: Db) => Promise<T>): Promise<T> {
  if (!database.pool) return work(database.db)
  const client = await database.pool.connect()
  try {
    return await work(drizzlePg(client, { schema, casing: 'snake_case' }) as unknown as Db)
  } finally {
    client.release()
  }
}
