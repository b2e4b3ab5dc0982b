import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import pg from 'pg'
import { createDb } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'
import { createApiKeyService } from '../src/services/api-keys.js'
import type { Scope } from '../src/services/api-keys.js'

export const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'

/** The URL of database `name` on the benchmark's PostgreSQL server. */
export function databaseUrl (name: string): string {
  const url = new URL(POSTGRES_URL)
  url.pathname = `/${name}`
  return url.href
}

/** Drops and creates database `name`, and migrates it. */
export async function freshDatabase (name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: POSTGRES_URL })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = databaseUrl(name)
  await withDatabase({ databaseUrl: url }, (database) => runMigrations(database))
  return url
}

/** Runs `work` on a database (PostgreSQL when `databaseUrl` is set, else PGlite in `dataDir`) and closes it. */
export async function withDatabase<T> (
  target: { databaseUrl?: string, dataDir?: string },
  work: (database: Awaited<ReturnType<typeof createDb>>) => Promise<T>
): Promise<T> {
  const database = await createDb({ databaseUrl: target.databaseUrl, dataDir: target.dataDir ?? 'memory://', statementTimeoutMs: 3_600_000 })
  try {
    return await work(database)
  } finally {
    await database.close()
  }
}

/** A new API key with these scopes, as an Authorization header value. */
export async function createKey (target: { databaseUrl?: string, dataDir?: string }, scopes: Scope[]): Promise<string> {
  return withDatabase(target, async (database) => `Bearer ${(await createApiKeyService({ db: database.db }).create(`bench-${Date.now()}`, scopes)).key}`)
}

/**
 * Bodies of new events for `POST /v1/events`, one per call, spread like real ones over a thousand companies, regions,
 * actions and dates: all on one company, day and region, every create would wait for the others on the same rollup
 * and company rows, and measure only that.
 */
export async function newEventBodies (databaseUrl: string): Promise<() => string> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const companyIds = await client.query<{ id: string }>('SELECT id FROM companies ORDER BY id LIMIT 1000')
    .then((result) => result.rows.map((c) => c.id)).finally(() => client.end())
  const regions = ['RU', 'BY', 'UA', 'KZ', 'GE', 'AM', 'CN', 'IR', 'TR', 'IN', 'RU-MOW', 'UA-43']
  const actions = ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume']
  let created = 0
  return () => {
    const n = ++created
    return JSON.stringify({
      company_id: companyIds[(n * 7919) % companyIds.length],
      region: regions[n % regions.length],
      service: `Bench service ${n}`,
      action: actions[(n * 31) % actions.length],
      date: new Date(Date.UTC(2014, 0, 1) + ((n * 104_729) % 4700) * 86_400_000).toISOString().slice(0, 10),
      sources: [{ url: `https://news.example.com/bench/${n % 1000}` }]
    })
  }
}

export const freePort = () => new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})

export const rssOf = (pid: number) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024
  } catch {
    return 0
  }
}

/** CPU time a process has used so far (user and system), in milliseconds. */
export const cpuMsOf = (pid: number) => {
  try {
    // The fields after the command name, which may hold spaces, start at its closing parenthesis.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return 0
  }
}

/** Samples a process's RSS every 50 ms until stopped; returns the peak. */
export function sampleRss (pid: number): () => number {
  let peak = rssOf(pid)
  const timer = setInterval(() => { peak = Math.max(peak, rssOf(pid)) }, 50)
  return () => {
    clearInterval(timer)
    return Math.max(peak, rssOf(pid))
  }
}

export const MB = 2 ** 20

/** Builds the server once, as production runs it: a TypeScript loader would add its own memory. */
export function buildServer (): void {
  if (spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' }).status !== 0) throw new Error('the build failed')
}

export interface RunningServer { url: string, pid: number, stop: () => Promise<void> }

/** Starts a Node program listening on a free port, and resolves once `readyPath` answers 2xx. */
export async function startServer (args: string[], env: Record<string, string | undefined>, readyPath: string): Promise<RunningServer> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, args, { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (await fetch(`${url}${readyPath}`).then((r) => r.ok, () => false)) break
    if (i > 600 || child.exitCode !== null) {
      child.kill('SIGKILL')
      throw new Error(`${args.join(' ')} did not become ready`)
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** Our server, from its build, with the settings of a production instance except the per-client limits. */
export function startOurServer (database: { databaseUrl?: string, dataDir?: string }, extra: Record<string, string> = {}): Promise<RunningServer> {
  return startServer(['dist/server.js'], {
    DATABASE_URL: database.databaseUrl,
    DATA_DIR: database.dataDir,
    SEED_SAMPLE: 'false',
    LOG_LEVEL: 'warn',
    // Every request comes from one address and one key: the limits would stop the run, and they are not what is measured.
    RATE_LIMIT_PER_IP: '0',
    RATE_LIMIT_PER_KEY: '0',
    ...extra
  }, '/readyz')
}
