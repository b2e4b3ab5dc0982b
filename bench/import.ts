import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request } from 'node:http'
import { createServer } from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { createDb } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'
import { createApiKeyService } from '../src/services/api-keys.js'

/**
 * Imports N generated NDJSON lines through `POST /v1/imports` into a server started from the build, on an empty
 * PostgreSQL database, and reports lines/s and the server's peak memory next to a plain COPY of the same rows
 * into a bare table, measured in the same run.
 */
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, lines: { type: 'string' } } })
const LINES = Number(values.lines ?? (values.quick ? 20_000 : 1_000_000))
const COMPANIES = 1000
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = 'market_exits_bench_import'
const url = new URL(serverUrl)
url.pathname = `/${name}`

const REGIONS = ['RU', 'BY', 'UA', 'KZ', 'UA-43', 'RU-MOW', 'GE', 'AM']
const ACTIONS = ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume']
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'JP', 'CN', 'IT', 'CH']
const SUMMARIES = [
  'The company suspended deliveries and closed its local offices.',
  "L'entreprise arrête les livraisons et suspend ses activités commerciales.",
  'Компания приостановила поставки и закрыла местные офисы.'
]

/** The i-th row, the same in every run: a company of 1000 by name and country, a source of 50,000. */
function row (i: number) {
  const c = (i * 7919) % COMPANIES
  return {
    company: { name: `Bench Company ${c}`, country: COUNTRIES[c % COUNTRIES.length]! },
    region: REGIONS[i % REGIONS.length]!,
    service: `Service ${i % 20}`,
    action: ACTIONS[i % ACTIONS.length]!,
    date: `20${14 + (i % 12)}-${String(1 + (i % 12)).padStart(2, '0')}-${String(1 + (i % 28)).padStart(2, '0')}`,
    // Summaries are mostly distinct in real data, and each costs its own search vector.
    summary: `${SUMMARIES[i % SUMMARIES.length]!} Report ${i}.`,
    sources: [{ url: `https://news.example.com/${i % 50_000}` }],
    external_id: `bench-${i}`
  }
}

/** The rows as text, a thousand at a time, generated as they are read: the client's memory stays flat too. */
function generate (format: (i: number) => string): Readable {
  let i = 0
  return new Readable({
    read () {
      if (i >= LINES) return this.push(null)
      const chunk: string[] = []
      for (const end = Math.min(LINES, i + 1000); i < end; i++) chunk.push(format(i))
      this.push(chunk.join(''))
    }
  })
}

const csvCell = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s

async function prepare (): Promise<string> {
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const database = await createDb({ databaseUrl: url.href, dataDir: 'memory://' })
  await runMigrations(database)
  const { key } = await createApiKeyService({ db: database.db }).create('bench', ['read', 'write'])
  await database.close()
  return key
}

const freePort = () => new Promise<number>((resolve) => {
  const server = createServer().listen(0, '127.0.0.1', () => {
    const { port } = server.address() as { port: number }
    server.close(() => resolve(port))
  })
})

const rssOf = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024

function importOnce (port: number, key: string, pid: number): Promise<{ id: string, seconds: number, peakRss: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    let peakRss = rssOf(pid)
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, rssOf(pid)) }, 50)
    const req = request({
      host: '127.0.0.1', port, method: 'POST', path: '/v1/imports', headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${key}` }
    }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => {
        clearInterval(sampler)
        if (res.statusCode !== 202) return reject(new Error(`import answered ${res.statusCode}: ${body}`))
        resolve({ id: JSON.parse(body).id, seconds: (performance.now() - start) / 1000, peakRss })
      })
    })
    req.on('error', reject)
    pipeline(generate((i) => JSON.stringify(row(i)) + '\n'), req).catch(reject)
  })
}

/** The floor: the same rows, as CSV, COPY'd into a bare table of the same columns (no index, trigger or history). */
async function plainCopy (): Promise<number> {
  const client = new pg.Client({ connectionString: url.href })
  await client.connect()
  await client.query(`CREATE TABLE bench_copy (company_name text, company_country text, region text, service text, action text,
    date date, summary text, source_url text, external_id text)`)
  const start = performance.now()
  await pipeline(generate((i) => {
    const r = row(i)
    return [r.company.name, r.company.country, r.region, r.service, r.action, r.date, r.summary, r.sources[0]!.url, r.external_id].map(csvCell).join(',') + '\n'
  }), client.query(copyFrom('COPY bench_copy FROM STDIN WITH (FORMAT csv)')))
  const seconds = (performance.now() - start) / 1000
  await client.end()
  return seconds
}

const key = await prepare()
// The server runs from its build, as in production: a TypeScript loader would add its own memory.
if (spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' }).status !== 0) throw new Error('the build failed')
const port = await freePort()
const server = spawn(process.execPath, ['dist/server.js'], {
  env: {
    ...process.env,
    DATABASE_URL: url.href,
    PORT: String(port),
    SEED_SAMPLE: 'false',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_KEY: '0',
    // The whole body arrives while it is applied.
    REQUEST_TIMEOUT_MS: '3600000',
    HANDLER_TIMEOUT_MS: '3600000',
    IMPORT_TIMEOUT_MS: '3600000'
  },
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
  const run = await importOnce(port, key, server.pid!)
  const result = await (await fetch(`http://127.0.0.1:${port}/v1/imports/${run.id}`)).json() as { status: string, counts: Record<string, number> }
  if (result.status !== 'done' || result.counts.created !== LINES) throw new Error(`the import ended ${JSON.stringify(result)}`)
  const copySeconds = await plainCopy()
  const rate = LINES / run.seconds
  const copyRate = LINES / copySeconds
  console.log(`| import of ${LINES} NDJSON lines | lines/s | seconds | server peak RSS | ratio to plain COPY |\n|---|---|---|---|---|`)
  console.log(`| plain COPY (floor) | ${Math.round(copyRate)} | ${copySeconds.toFixed(1)} | | 1.00 |`)
  console.log(`| POST /v1/imports | ${Math.round(rate)} | ${run.seconds.toFixed(1)} | ${(run.peakRss / 2 ** 20).toFixed(0)} MB (idle ${(idleRss / 2 ** 20).toFixed(0)} MB) | ${(rate / copyRate).toFixed(3)} |`)
} finally {
  server.kill('SIGTERM')
}
