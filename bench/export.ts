import { get } from 'node:http'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import { sampleRss, MB, type RunningServer } from './support.js'

/** Line feeds in a chunk, found natively: a byte-by-byte loop cost the client seconds of the CPU the server shares. */
function lineFeeds (chunk: Buffer): number {
  let count = 0
  for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) count++
  return count
}

export interface ExportRun { format: string, rows: number, seconds: number, rowsPerSecond: number, peakRssMb: number }

/** Streams one export, counting line ends, and samples the server's RSS meanwhile. */
function exportOnce (server: RunningServer, accept: string): Promise<{ lines: number, seconds: number, peakRss: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now()
    let lines = 0
    const stopSampling = sampleRss(server.pid)
    get(`${server.url}/v1/events`, { headers: { accept } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`export answered ${res.statusCode}`))
      res.on('data', (chunk: Buffer) => { lines += lineFeeds(chunk) })
      res.on('end', () => resolve({ lines, seconds: (performance.now() - start) / 1000, peakRss: stopSampling() }))
      res.on('error', reject)
    }).on('error', reject)
  })
}

/** The floor: the same rows, joined and sorted the same way, straight out of Postgres with COPY. */
async function plainCopy (databaseUrl: string): Promise<{ lines: number, seconds: number }> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const start = performance.now()
  let lines = 0
  await pipeline(client.query(copyTo(`COPY (
    SELECT e.*, c.name, (SELECT string_agg(s.url, ' ' ORDER BY es.position) FROM event_sources es JOIN sources s ON s.id = es.source_id WHERE es.event_id = e.id)
    FROM events e JOIN companies c ON c.id = e.company_id WHERE e.deleted_at IS NULL ORDER BY e.date DESC, e.id DESC) TO STDOUT WITH (FORMAT csv)`)),
  new Writable({ write (chunk: Buffer, _encoding, done) { lines += lineFeeds(chunk); done() } }))
  await client.end()
  return { lines, seconds: (performance.now() - start) / 1000 }
}

/** Every event out of a running server as NDJSON and as CSV, next to a plain COPY of the same rows in the same run. */
export async function measureExport (server: RunningServer, databaseUrl: string): Promise<ExportRun[]> {
  const copy = await plainCopy(databaseUrl)
  const runs: ExportRun[] = [{ format: 'plain COPY (floor)', rows: copy.lines, seconds: copy.seconds, rowsPerSecond: copy.lines / copy.seconds, peakRssMb: 0 }]
  for (const [format, accept, header] of [['NDJSON', 'application/x-ndjson', 0], ['CSV', 'text/csv', 1]] as const) {
    const run = await exportOnce(server, accept)
    const rows = run.lines - header
    if (rows !== copy.lines) throw new Error(`${format} exported ${rows} rows, COPY ${copy.lines}`)
    runs.push({ format, rows, seconds: run.seconds, rowsPerSecond: rows / run.seconds, peakRssMb: Math.round(run.peakRss / MB) })
  }
  return runs
}
