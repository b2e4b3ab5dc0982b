import { request } from 'node:http'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { datasetLines, type DatasetLine, type DatasetSize } from './dataset.js'
import { createKey, MB, rssOf, sampleRss, startOurServer, type RunningServer } from './support.js'

function importOnce (server: RunningServer, key: string, size: DatasetSize): Promise<{ id: string, seconds: number, peakRss: number }> {
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
    pipeline(datasetLines(size, (line) => JSON.stringify(line) + '\n'), req).catch(reject)
  })
}

const csvCell = (s: string) => /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s
const csvLine = (r: DatasetLine) => [r.company.name, r.company.country, r.company.sector, r.region, r.service, r.action, r.date, r.summary,
  r.sources[0]!.url, r.sources[0]!.title, r.external_id].map(csvCell).join(',') + '\n'

/** The floor: the same lines, as CSV, COPY'd into a bare table of the same columns (no index, trigger or history). */
async function plainCopy (databaseUrl: string, size: DatasetSize): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query(`CREATE TABLE bench_copy (company_name text, company_country text, company_sector text, region text, service text,
      action text, date date, summary text, source_url text, source_title text, external_id text)`)
    const start = performance.now()
    await pipeline(datasetLines(size, csvLine), client.query(copyFrom('COPY bench_copy FROM STDIN WITH (FORMAT csv)')))
    const seconds = (performance.now() - start) / 1000
    await client.query('DROP TABLE bench_copy')
    return seconds
  } finally {
    await client.end()
  }
}

/**
 * A second floor, of what an import must store: the events it wrote (with their search documents), their citations
 * and their history rows, copied within PostgreSQL into empty tables with the same indexes (no trigger, foreign key,
 * parsing or search document to make). No import of these lines into this schema can be faster.
 */
async function storedRowsCopy (databaseUrl: string): Promise<Record<string, number>> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const tables = [['events', ''], ['event_sources', ''], ['revisions', "WHERE resource_type = 'event'"]] as const
  try {
    const copies: string[] = []
    for (const [table, where] of tables) {
      await client.query(`CREATE TABLE bench_${table} (LIKE ${table} INCLUDING ALL)`)
      // Generated columns (the events' region_country) are made by the insert, as in ours.
      const columns = (await client.query(`SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS list
        FROM information_schema.columns WHERE table_name = $1 AND is_generated = 'NEVER'`, [table])).rows[0].list
      copies.push(`INSERT INTO bench_${table} (${columns}) SELECT ${columns} FROM ${table} ${where}`)
    }
    const seconds: Record<string, number> = {}
    for (const [i, copy] of copies.entries()) {
      const start = performance.now()
      await client.query(copy)
      seconds[tables[i]![0]] = (performance.now() - start) / 1000
    }
    for (const [table] of tables) await client.query(`DROP TABLE bench_${table}`)
    return seconds
  } finally {
    await client.end()
  }
}

export interface ImportRun {
  lines: number
  seconds: number
  linesPerSecond: number
  peakRssMb: number
  idleRssMb: number
  copyLinesPerSecond: number
  storedRowsLinesPerSecond: number
  storedRowsSeconds: Record<string, number>
}

/**
 * Loads the dataset of `size` into a migrated, empty PostgreSQL database through `POST /v1/imports` of our server
 * (NDJSON lines that name their companies by name and country), then COPYs the same lines into a bare table for
 * the floor, and copies the rows the import stored for the second, in the same run.
 */
export async function importDataset (databaseUrl: string, size: DatasetSize): Promise<ImportRun> {
  const key = await createKey({ databaseUrl }, ['read', 'write'])
  // The whole body arrives while it is applied.
  const server = await startOurServer({ databaseUrl }, { REQUEST_TIMEOUT_MS: '3600000', HANDLER_TIMEOUT_MS: '3600000', IMPORT_TIMEOUT_MS: '3600000' })
  let run: { id: string, seconds: number, peakRss: number }
  let idleRss: number
  try {
    idleRss = rssOf(server.pid)
    run = await importOnce(server, key, size)
    const result = await (await fetch(`${server.url}/v1/imports/${run.id}`)).json() as { status: string, counts: Record<string, number> }
    if (result.status !== 'done' || result.counts.created !== size.events) throw new Error(`the import ended ${JSON.stringify(result)}`)
  } finally {
    await server.stop()
  }
  const copySeconds = await plainCopy(databaseUrl, size)
  const storedRowsSeconds = await storedRowsCopy(databaseUrl)
  return {
    lines: size.events,
    seconds: run.seconds,
    linesPerSecond: size.events / run.seconds,
    peakRssMb: Math.round(run.peakRss / MB),
    idleRssMb: Math.round(idleRss / MB),
    copyLinesPerSecond: size.events / copySeconds,
    storedRowsLinesPerSecond: size.events / Object.values(storedRowsSeconds).reduce((a, b) => a + b, 0),
    storedRowsSeconds
  }
}
