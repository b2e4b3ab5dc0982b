import { request } from 'node:http'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { createKey, freshDatabase, MB, rssOf, sampleRss, startOurServer, type RunningServer } from './support.js'

const COMPANIES = 1000
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
function generate (lines: number, format: (i: number) => string): Readable {
  let i = 0
  return new Readable({
    read () {
      if (i >= lines) return this.push(null)
      const chunk: string[] = []
      for (const end = Math.min(lines, i + 1000); i < end; i++) chunk.push(format(i))
      this.push(chunk.join(''))
    }
  })
}

const csvCell = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s

function importOnce (server: RunningServer, key: string, lines: number): Promise<{ id: string, seconds: number, peakRss: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    const stopSampling = sampleRss(server.pid)
    const req = request(`${server.url}/v1/imports`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', authorization: key } }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => {
        const peakRss = stopSampling()
        if (res.statusCode !== 202) return reject(new Error(`import answered ${res.statusCode}: ${body}`))
        resolve({ id: JSON.parse(body).id, seconds: (performance.now() - start) / 1000, peakRss })
      })
    })
    req.on('error', reject)
    pipeline(generate(lines, (i) => JSON.stringify(row(i)) + '\n'), req).catch(reject)
  })
}

/** The floor: the same rows, as CSV, COPY'd into a bare table of the same columns (no index, trigger or history). */
async function plainCopy (databaseUrl: string, lines: number): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query(`CREATE TABLE bench_copy (company_name text, company_country text, region text, service text, action text,
    date date, summary text, source_url text, external_id text)`)
  const start = performance.now()
  await pipeline(generate(lines, (i) => {
    const r = row(i)
    return [r.company.name, r.company.country, r.region, r.service, r.action, r.date, r.summary, r.sources[0]!.url, r.external_id].map(csvCell).join(',') + '\n'
  }), client.query(copyFrom('COPY bench_copy FROM STDIN WITH (FORMAT csv)')))
  const seconds = (performance.now() - start) / 1000
  await client.end()
  return seconds
}

export interface ImportRun { lines: number, seconds: number, linesPerSecond: number, peakRssMb: number, idleRssMb: number, copyLinesPerSecond: number }

/**
 * Imports `lines` generated NDJSON lines (a company of 1,000 by name and country, one source of 50,000, a distinct
 * summary and external_id each) through `POST /v1/imports` of our server on an empty PostgreSQL database, next to
 * a plain COPY of the same rows into a bare table, in the same run.
 */
export async function measureImport (lines: number): Promise<ImportRun> {
  const { url } = await freshDatabase('market_exits_bench_import')
  const key = await createKey({ databaseUrl: url }, ['read', 'write'])
  // The whole body arrives while it is applied.
  const server = await startOurServer({ databaseUrl: url }, { REQUEST_TIMEOUT_MS: '3600000', HANDLER_TIMEOUT_MS: '3600000', IMPORT_TIMEOUT_MS: '3600000' })
  try {
    const idleRss = rssOf(server.pid)
    const run = await importOnce(server, key, lines)
    const result = await (await fetch(`${server.url}/v1/imports/${run.id}`)).json() as { status: string, counts: Record<string, number> }
    if (result.status !== 'done' || result.counts.created !== lines) throw new Error(`the import ended ${JSON.stringify(result)}`)
    const copySeconds = await plainCopy(url, lines)
    return {
      lines,
      seconds: run.seconds,
      linesPerSecond: lines / run.seconds,
      peakRssMb: Math.round(run.peakRss / MB),
      idleRssMb: Math.round(idleRss / MB),
      copyLinesPerSecond: lines / copySeconds
    }
  } finally {
    await server.stop()
  }
}
