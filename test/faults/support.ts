import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Test } from 'tap'
import { createDb } from '../../src/db/client.js'
import { runMigrations } from '../../src/db/migrate.js'
import { createApiKeyService, type Scope } from '../../src/services/api-keys.js'
import { subprocessEnv } from '../database.js'

const execFileAsync = promisify(execFile)
const repoRoot = new URL('../../', import.meta.url).pathname

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A TCP port nobody listens on right now. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The newest installed PostgreSQL's programs (Debian keeps them out of PATH). */
async function postgresBin (): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).sort((a, b) => Number(b) - Number(a))
  return join('/usr/lib/postgresql', versions[0]!, 'bin')
}

/** Runs a PostgreSQL program; CI runs as root, which initdb and postgres refuse, so there as the postgres user. */
export async function runPostgresTool (program: string, args: string[]) {
  const path = join(await postgresBin(), program)
  const [command, commandArgs] = process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args]
  return execFileAsync(command, commandArgs, { maxBuffer: 16 * 1024 * 1024 })
}

/** A new temporary directory that the PostgreSQL programs run by `runPostgresTool` may write in. */
export async function postgresOwnedDir (prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  if (process.getuid?.() === 0) {
    const id = async (flag: string) => Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim())
    await chown(dir, await id('-u'), await id('-g'))
  }
  return dir
}

export interface Cluster {
  url: string
  port: number
  /** Stops the server the way a crash does: no checkpoint, every backend killed. */
  crash: () => Promise<void>
  start: () => Promise<void>
  /** pg_amcheck over every database: heap and B-tree indexes, index entries against the heap. */
  amcheck: () => Promise<{ ok: boolean, output: string }>
}

/** A throwaway PostgreSQL cluster of this test's own on loopback, never the shared one; removed at teardown. */
export async function startCluster (t: Test): Promise<Cluster> {
  const dir = await postgresOwnedDir('market-exits-faults-')
  const data = join(dir, 'data')
  const port = await freePort()
  await runPostgresTool('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'])
  const settings = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=60 -c shared_buffers=32MB`
  const start = async () => { await runPostgresTool('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', settings, 'start']) }
  const crash = async () => { await runPostgresTool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']) }
  await start()
  t.teardown(async () => {
    await crash().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    crash,
    start,
    async amcheck () {
      const args = ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '--all', '--install-missing', '--heapallindexed', '--parent-check']
      return runPostgresTool('pg_amcheck', args)
        .then(({ stdout, stderr }) => ({ ok: true, output: stdout + stderr }))
        .catch((err: { stdout?: string, stderr?: string }) => ({ ok: false, output: `${err.stdout ?? ''}${err.stderr ?? ''}` }))
    }
  }
}

/** Migrates the database at `url` and creates a key on it; returns the `Authorization` header. */
export async function keyFor (url: string, scopes: Scope[] = ['read', 'write']): Promise<{ authorization: string }> {
  const database = await createDb({ databaseUrl: url, dataDir: '' })
  try {
    await runMigrations(database)
    const { key } = await createApiKeyService({ db: database.db }).create(`faults-${scopes.join('-')}-${Date.now()}`, scopes)
    return { authorization: `Bearer ${key}` }
  } finally {
    await database.close()
  }
}

export interface ServerProcess {
  url: string
  child: ChildProcess
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** What the process wrote to stdout and stderr so far. */
  output: () => string
}

/** The API as its own process (`src/server.ts`), as it runs in production, on `databaseUrl`; ready when this resolves. */
export async function startServer (t: Test, databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    env: subprocessEnv({
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      SEED_SAMPLE: 'false',
      RATE_LIMIT_PER_KEY: '0',
      RATE_LIMIT_PER_IP: '0',
      ...env
    }),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited during start-up:\n${output}`)
    // Ready as an orchestrator sees it: the database answers, and the start-up work no longer counts as overload.
    const ready = await fetch(`${url}/readyz`).then((res) => res.ok, () => false)
    if (ready) return { url, child, exited, output: () => output }
    await sleep(100)
  }
  throw new Error(`the server did not answer within 60 s:\n${output}`)
}

/** The p-th percentile (0–100) of some numbers. */
export function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN
}
