import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { get } from 'node:http'
import { createServer } from 'node:net'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { createDb } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'
import { loadDataset } from './dataset.js'

/**
 * Streams every event out of a running server as NDJSON and as CSV, and reports rows/s and the server's
 * peak memory, next to a plain COPY of the same rows measured in the same run. `--reuse` keeps a database
 * loaded by an earlier run of this or of `npm run bench`.
 */
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, reuse: { type: 'boolean', default: false } } })
const size = values.quick ? { companies: 500, events: 10_000, seed: 42 } : { companies: 20_000, events: 1_000_000, seed: 42 }
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `market_exits_bench_${size.events}`
const url = new URL(serverUrl)
url.pathname = `/${name}`

async function prepare (): Promise<void> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1
  if (values.reuse && exists) {
    await admin.end()
    return
  }
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const database = await createDb({ databaseUrl: url.href, dataDir: 'memory://', statementTimeoutMs: 3_600_000 })
  await runMigrations(database)
  await loadDataset(database.db, size)
  await database.close()
}

const freePort = () => new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

/** Streams one export, counting line ends, and samples the server's RSS meanwhile. */
function exportOnce (port: number, accept: string, pid: number): Promise<{ lines: number, seconds: number, peakRss: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    let lines = 0
    let peakRss = rssOf(pid)
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(pid)) }, 50)
    get({ host: '127.0.0.1', port, path: '/v1/events', headers: { accept } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`))
      res.on('data', (chunk: Buffer) => { for (const byte of chunk) if (byte === 10) lines++ })
      res.on('end', () => {
        clearInterval(sampler)
        resolve({ lines, seconds: (performance.now() - start) / 1000, peakRss })
      })
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** The floor: the same rows, joined and sorted the same way, straight out of Postgres with COPY. */
async function plainCopy (): Promise<{ lines: number, seconds: number }> {
  const client = new pg.Client({ connectionString: url.href })
  await client.connect()
  const start = performance.now()
  let lines = 0
  await pipeline(client.query(copyTo(`COPY (
    SELECT e.*, c.name, (SELECT string_agg(s.url, ' ' ORDER BY es.position) FROM event_sources es JOIN sources s ON s.id = es.source_id WHERE es.event_id = e.id)
    FROM events e JOIN companies c ON c.id = e.company_id WHERE e.deleted_at IS NULL ORDER BY e.date DESC, e.id DESC) TO STDOUT WITH (FORMAT csv)`)),
  new Writable({ write (chunk: Buffer, _encoding, done) { for (const byte of chunk) if (byte === 10) lines++; done() } }))
  await client.end()
  return { lines, seconds: (performance.now() - start) / 1000 }
}

await prepare()
// The server runs from its build, as in production: a TypeScript loader would add its own memory.
if (spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' }).status !== 0) throw new Error('the build failed')
const port = await freePort()
const server = spawn(process.execPath, ['dist/server.js'], {
  env: { ...process.env, DATABASE_URL: url.href, PORT: String(port), SEED_SAMPLE: 'false', LOG_LEVEL: 'warn', DB_STATEMENT_TIMEOUT_MS: '60000', RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_KEY: '0' },
  stdio: ['ignore', 'inherit', 'inherit']
})
try {
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)
    if (ready) break
    if (i > 300) throw new Error('the server did not become ready')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const idleRss = rssOf(server.pid!)
  const copy = await plainCopy()
  console.log(`| export of ${size.events} events | rows/s | seconds | server peak RSS | ratio to plain COPY |\n|---|---|---|---|---|`)
  console.log(`| plain COPY (floor) | ${Math.round(copy.lines / copy.seconds)} | ${copy.seconds.toFixed(1)} | | 1.00 |`)
  for (const [label, accept, header] of [['NDJSON', 'application/x-ndjson', 0], ['CSV', 'text/csv', 1]] as const) {
    const run = await exportOnce(port, accept, server.pid!)
    const rows = run.lines - header
    if (rows !== copy.lines) throw new Error(`${label} exported ${rows} rows, COPY ${copy.lines}`)
    const rate = rows / run.seconds
    console.log(`| ${label} | ${Math.round(rate)} | ${run.seconds.toFixed(1)} | ${(run.peakRss / 2 ** 20).toFixed(0)} MB (idle ${(idleRss / 2 ** 20).toFixed(0)} MB) | ${(rate / (copy.lines / copy.seconds)).toFixed(2)} |`)
  }
} finally {
  server.kill('SIGTERM')
}
