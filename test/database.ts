import { createHash, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { createDb, type Database } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'

/** The server the suite runs on, if any; without one it runs on PGlite. */
export const serverUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL

// Named after this checkout, so that two checkouts can test at once on one machine.
const checkout = createHash('sha256').update(process.cwd()).digest('hex').slice(0, 8)
export const templateName = `market_exits_template_${checkout}`
const pgliteImagePath = join(tmpdir(), `market-exits-pglite-${checkout}.tar`)

function urlFor (database: string): string {
  const url = new URL(serverUrl!)
  url.pathname = `/${database}`
  return url.href
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
  const image = new Blob([await readFile(pgliteImagePath)])
  const database = await createDb({ dataDir: 'memory://', pgliteImage: image })
  return { database, drop: async () => {} }
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
  let image: Blob | undefined = new Blob([await readFile(pgliteImagePath)])
  return {
    open: async () => {
      const database = await createDb({ dataDir, pgliteImage: image })
      image = undefined
      return database
    },
    drop: () => rm(dataDir, { recursive: true, force: true })
  }
}
