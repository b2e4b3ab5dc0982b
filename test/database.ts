import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createDb, prepareSession, type Database } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'

/** The server the suite runs on, if any; without one it runs on PGlite. */
export const serverUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL

// Named after this checkout and suite (TEST_SUITE: `npm test`'s or the fault suite's), so that two checkouts, or
// both suites of one (CI runs them at once), can test at once on one machine.
const checkout = createHash('sha256').update(`${process.cwd()}:${process.env.TEST_SUITE ?? 'main'}`).digest('hex').slice(0, 8)
export const templateName = `market_exits_template_${checkout}`
const pgliteImagePath = join(tmpdir(), `market-exits-pglite-${checkout}.tar`)

function urlFor (database: string): string {
  const url = new URL(serverUrl!)
  url.pathname = `/${database}`
  return url.href
}

/**
 * The environment of a subprocess that picks its own database: the suite's, without its database settings and
 * without coverage (tap's switch). Subprocesses run their TypeScript through tsx, whose coverage maps every source
 * file to one line; merged with the suite's, it made the report count about 300 lines in all.
 */
export function subprocessEnv (env: Record<string, string>): NodeJS.ProcessEnv {
  const inherited: NodeJS.ProcessEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  delete inherited.DATABASE_URL
  delete inherited.TEST_DATABASE_URL
  return { ...inherited, ...env }
}

/** Runs one statement on the server's admin database (CREATE/DROP DATABASE cannot run in a pool transaction). */
export async function admin (statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** Builds the migrated template once per run: a server database, or a PGlite data directory image. */
export async function prepareTemplate (): Promise<void> {
  if (serverUrl) {
    await admin(`DROP DATABASE IF EXISTS "${templateName}" WITH (FORCE)`)
    await admin(`CREATE DATABASE "${templateName}"`)
    const database = await createDb({ databaseUrl: urlFor(templateName), dataDir: 'memory://' })
    await runMigrations(database)
    await database.close()
    return
  }
  const database = await createDb({ dataDir: 'memory://' })
  await runMigrations(database)
  const image = await database.pglite!.dumpDataDir('none')
  await writeFile(pgliteImagePath, Buffer.from(await image.arrayBuffer()))
  await database.close()
}

/** Drops the server template at the end of a run, so that runs leave no database behind. */
export async function dropTemplate (): Promise<void> {
  if (serverUrl) await admin(`DROP DATABASE IF EXISTS "${templateName}" WITH (FORCE)`)
}

export interface TestDatabase { database: Database, url?: string, drop: () => Promise<void> }

/** A fresh, migrated database of its own for one test. */
export async function freshDatabase (options: { statementTimeoutMs?: number, connectTimeoutMs?: number } = {}): Promise<TestDatabase> {
  if (serverUrl) {
    const name = `market_exits_t_${process.pid}_${randomUUID().slice(0, 8)}`
    await admin(`CREATE DATABASE "${name}" TEMPLATE "${templateName}"`)
    const url = urlFor(name)
    const database = await createDb({ databaseUrl: url, dataDir: 'memory://', poolMax: 5, ...options })
    return { database, url, drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) }
  }
  return freshPglite()
}

/** The migrated template as a PGlite data directory image: loading it is much cheaper than initdb and the migrations. */
export async function templateImage (): Promise<Blob> {
  return new Blob([await readFile(pgliteImagePath)])
}

/** What a PGlite database holds right after the migrations: the tables to empty, and the rows to put back. */
interface PgliteBaseline { tables: string[], rows: Array<{ table: string, json: string }>, schema: string }

// The schema's objects and definitions: a test that changed them (to make a write fail, say) leaves an instance that cannot be reused.
const SCHEMA_FINGERPRINT = `SELECT md5(string_agg(item, ',' ORDER BY item)) AS schema FROM (
    SELECT 'class ' || c.oid::regclass::text || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname IN ('public', 'pgboss')
    UNION ALL SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' ' || a.atttypid || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      WHERE n.nspname IN ('public', 'pgboss') AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'function ' || p.oid::regprocedure::text || ' ' || md5(p.prosrc) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname IN ('public', 'pgboss')
    UNION ALL SELECT 'trigger ' || t.tgrelid::regclass::text || '.' || t.tgname || ' ' || t.tgenabled::text || ' ' || t.tgfoid::regproc::text FROM pg_trigger t WHERE NOT t.tgisinternal
    UNION ALL SELECT 'constraint ' || c.conrelid::regclass::text || '.' || c.conname || ' ' || pg_get_constraintdef(c.oid) FROM pg_constraint c
      JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname IN ('public', 'pgboss')
  ) items(item)`

let baseline: PgliteBaseline | undefined
/** A PGlite instance that a finished test gave back, to be reset for the next one. */
let spare: Database | undefined
let closesAtEnd = false

/**
 * Starting PGlite from the template image costs about a second of CPU, and the suite builds some 150 apps;
 * so a test file keeps one instance and a test that ends gives it back, emptied to the template's state for
 * the next one. A test that needs two at once gets a second instance from the image.
 */
async function freshPglite (): Promise<TestDatabase> {
  let instance = spare
  spare = undefined
  if (instance) {
    await resetPglite(instance, baseline!)
  } else {
    instance = await createDb({ dataDir: 'memory://', pgliteImage: await templateImage() })
    baseline ??= await readBaseline(instance)
  }
  const shared = instance
  // The app closes its database when it closes; the instance stays open for the next test until the process ends.
  const database: Database = { ...shared, close: async () => {} }
  let dropped = false
  return {
    database,
    drop: async () => {
      if (dropped) return
      dropped = true
      if (spare || await schemaOf(shared) !== baseline!.schema) {
        await shared.close()
      } else {
        spare = shared
        // An open instance keeps the process alive: the last one closes when the file's tests are done.
        if (!closesAtEnd) (await import('tap')).default.teardown(async () => { await spare?.close() })
        closesAtEnd = true
      }
    }
  }
}

async function readBaseline (database: Database): Promise<PgliteBaseline> {
  const { rows } = await database.pglite!.query<{ name: string }>(`SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname IN ('public', 'pgboss') ORDER BY 1`)
  const tables = rows.map((r) => r.name)
  const seeded: PgliteBaseline['rows'] = []
  for (const table of tables) {
    const { rows: [row] } = await database.pglite!.query<{ json: string | null }>(`SELECT json_agg(t)::text AS json FROM ${table} t`)
    if (row?.json) seeded.push({ table, json: row.json })
  }
  return { tables, rows: seeded, schema: await schemaOf(database) }
}

async function schemaOf (database: Database): Promise<string> {
  const { rows: [row] } = await database.pglite!.query<{ schema: string }>(SCHEMA_FINGERPRINT)
  return row!.schema
}

async function resetPglite (database: Database, { tables, rows }: PgliteBaseline): Promise<void> {
  const pglite = database.pglite!
  // Session state too: a transaction, settings, advisory locks, prepared statements and cursors that a test left behind.
  await pglite.exec('ROLLBACK')
  await pglite.exec('DISCARD ALL')
  await prepareSession(pglite)
  await pglite.transaction(async (tx) => {
    await tx.exec(`TRUNCATE ${tables.join(', ')} RESTART IDENTITY CASCADE`)
    for (const { table, json } of rows) {
      await tx.query(`INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1)`, [json])
    }
  })
}

export interface ReopenableDatabase { open: () => Promise<Database>, drop: () => Promise<void> }

/**
 * A fresh, migrated database that outlives the apps on it: `open()` again, once the previous app closed it,
 * to see what a restarted instance sees. PGlite keeps it in a directory instead of memory.
 */
export async function reopenableDatabase (): Promise<ReopenableDatabase> {
  if (serverUrl) {
    const { database, url, drop } = await freshDatabase()
    let first: Database | undefined = database
    return {
      open: async () => {
        const given = first ?? await createDb({ databaseUrl: url, dataDir: 'memory://', poolMax: 5 })
        first = undefined
        return given
      },
      drop
    }
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'market-exits-reopen-'))
  let image: Blob | undefined = await templateImage()
  return {
    open: async () => {
      const database = await createDb({ dataDir, pgliteImage: image })
      image = undefined
      return database
    },
    drop: () => rm(dataDir, { recursive: true, force: true })
  }
}
