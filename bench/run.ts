import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pg from 'pg'
import { runMigrations } from '../src/db/migrate.js'
import { encodeCursor } from '../src/domain/cursor.js'
import { etagOf } from '../src/domain/etag.js'
import { companyName, loadDataset } from './dataset.js'
import { measureExport } from './export.js'
import { importDataset, type ImportRun } from './import.js'
import { compare, load, type Comparison, type LoadRequest, type LoadRun } from './load.js'
import { buildServer, createKey, databaseUrl as urlOf, freshDatabase, newEventBodies, POSTGRES_URL, startOurServer, startServer, withDatabase, type RunningServer } from './support.js'

/**
 * `npm run bench`: loads the deterministic dataset into PostgreSQL, runs each scenario on our server and on a bare
 * Fastify + pg server in turns, then the latency, export and import scenarios and the read scenarios on PGlite, and
 * prints the tables that bench/README.md keeps. A full run writes bench/results/<date>.json. `--quick` is a small
 * version that CI runs to keep the benchmark working; it never fails on speed.
 */
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    only: { type: 'string' }
  }
})
const quick = values.quick
// While optimising: `--reuse` keeps the database an earlier run loaded, `--only <text>` runs the comparisons whose name has
// it (`--only export`: the export alone; `--only latency`: the insight latencies alone).
const only = values.only
const size = quick ? { companies: 500, events: 10_000, seed: 42 } : { companies: 20_000, events: 1_000_000, seed: 42 }
const pgliteSize = quick ? { companies: 100, events: 2_000, seed: 42 } : { companies: 2_000, events: 100_000, seed: 42 }
const throughput = { connections: 50, ...(quick ? { requests: 100 } : { seconds: 5 }), rounds: quick ? 1 : 2, warmUp: !quick }
const latency = { connections: 1, ...(quick ? { requests: 10 } : { seconds: 3 }) }
const pgliteLoad = { connections: 10, ...(quick ? { requests: 50 } : { seconds: 5 }) }
// The deep page of the keyset walk: page 1,000 needs 50,000 events.
const deepPage = quick ? 100 : 1000

const say = (line: string) => console.log(line)
const fixed = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

async function queryRows<T> (databaseUrl: string, text: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return (await client.query(text, params)).rows as T[]
  } finally {
    await client.end()
  }
}

/** Ids drawn across the table, for requests that name an event, with their versions for If-Match. */
async function eventPool (databaseUrl: string, count: number): Promise<Array<{ id: string, version: number }>> {
  return queryRows(databaseUrl, 'SELECT id, version FROM events WHERE deleted_at IS NULL ORDER BY md5(id::text) LIMIT $1', [count])
}

/** Cycles through a list, one item per request. */
function cycle<T> (items: T[]): () => T {
  let i = 0
  return () => items[i++ % items.length]!
}

/** The cursor of page `page` (of 50) of the unfiltered list, built from the key of its previous page's last row. */
async function cursorOfPage (server: RunningServer, databaseUrl: string, page: number): Promise<{ ours: string, bare: string }> {
  const first = await (await fetch(`${server.url}/v1/events?limit=50`)).json() as { next_cursor: string }
  const { f: fingerprint } = JSON.parse(Buffer.from(first.next_cursor, 'base64url').toString()) as { f: string }
  const [row] = await queryRows<{ date: string, id: string }>(databaseUrl,
    "SELECT to_char(date, 'YYYY-MM-DD') AS date, id FROM events WHERE deleted_at IS NULL ORDER BY date DESC, id DESC OFFSET $1 LIMIT 1", [(page - 1) * 50 - 1])
  return { ours: encodeCursor(fingerprint, [row!.date, row!.id]), bare: `after_date=${row!.date}&after_id=${row!.id}` }
}

async function throughputScenarios (servers: { ours: RunningServer, bare: RunningServer }, databaseUrl: string): Promise<Comparison[]> {
  const reader = { authorization: await createKey({ databaseUrl }, ['read']) }
  const writer = { authorization: await createKey({ databaseUrl }, ['read', 'write']) }
  const ids = (await eventPool(databaseUrl, 1000)).map((e) => e.id)
  const nextId = { ours: cycle(ids), bare: cycle(ids) }
  const deep = await cursorOfPage(servers.ours, databaseUrl, deepPage)
  const newEvent = await newEventBodies(databaseUrl)
  // PATCH: each run takes events no earlier run touched (requests cut off at a run's end were answered unseen), each
  // request the next of them, with the version it last saw; both servers bump it.
  const versions = new Map<string, number>()
  let patchRuns = 0
  let nextPatchId = cycle([''])
  const patch: LoadRequest = {
    method: 'PATCH',
    path: '/',
    before: async () => {
      const fresh = await queryRows<{ id: string, version: number }>(databaseUrl,
        'SELECT id, version FROM events WHERE deleted_at IS NULL ORDER BY md5(id::text) DESC OFFSET $1 LIMIT 2000', [2000 * patchRuns++])
      versions.clear()
      for (const row of fresh) versions.set(row.id, row.version)
      nextPatchId = cycle([...versions.keys()])
    },
    setup: () => {
      const id = nextPatchId()
      return {
        path: `/v1/events/${id}`,
        headers: { ...writer, 'content-type': 'application/merge-patch+json', 'if-match': etagOf(versions.get(id)!) },
        body: JSON.stringify({ summary: `Patched ${Date.now()}` })
      }
    },
    onResponse: (_status, body) => {
      const event = JSON.parse(body) as { id: string, version: number }
      versions.set(event.id, event.version)
    }
  }
  const same = (request: LoadRequest) => ({ ours: { ...request, headers: { ...reader, ...request.headers } }, bare: request })
  const byId = (side: 'ours' | 'bare'): LoadRequest => ({ path: '/', setup: () => ({ path: `/v1/events/${nextId[side]()}` }) })
  const scenarios: Array<[string, { ours: LoadRequest, bare: LoadRequest }]> = [
    ['get by id', { ours: { ...byId('ours'), headers: reader }, bare: byId('bare') }],
    ['list, region and date range', same({ path: '/v1/events?region=RU&date_from=2022-01-01&date_to=2022-12-31&limit=50' })],
    ['list, q', same({ path: '/v1/events?q=livraisons&limit=50' })],
    ['list, page 1', same({ path: '/v1/events?limit=50' })],
    [`list, page ${fixed(deepPage)} (keyset)`, {
      ours: { path: `/v1/events?limit=50&cursor=${deep.ours}`, headers: reader },
      bare: { path: `/v1/events?${deep.bare}` }
    }],
    ['create', {
      ours: { method: 'POST', path: '/v1/events', headers: writer, setup: () => ({ body: newEvent() }) },
      bare: { method: 'POST', path: '/v1/events', setup: () => ({ body: newEvent() }) }
    }],
    ['PATCH with If-Match', { ours: patch, bare: patch }]
  ]
  const results: Comparison[] = []
  say('\n| scenario (50 connections) | ours req/s | bare req/s | ours/bare (min–max) | ours p50 / p99 ms | bare p50 / p99 ms | p99 ours/bare | server CPU ms per request, ours / bare | peak RSS ours / bare MB |')
  say('|---|---|---|---|---|---|---|---|---|')
  for (const [name, requests] of scenarios.filter(([name]) => only === undefined || name.includes(only))) {
    const result = await compare(name, servers, requests, throughput)
    results.push(result)
    const mean = (runs: LoadRun[], pick: (r: LoadRun) => number) => runs.reduce((sum, r) => sum + pick(r), 0) / runs.length
    const peak = (runs: LoadRun[]) => Math.max(...runs.map((r) => r.peakRssMb))
    say(`| ${name} | ${fixed(mean(result.ours, (r) => r.rps))} | ${fixed(mean(result.bare, (r) => r.rps))} | ` +
      `${result.ratio.median.toFixed(2)} (${result.ratio.min.toFixed(2)}–${result.ratio.max.toFixed(2)}) | ` +
      `${fixed(mean(result.ours, (r) => r.p50), 1)} / ${fixed(mean(result.ours, (r) => r.p99), 1)} | ` +
      `${fixed(mean(result.bare, (r) => r.p50), 1)} / ${fixed(mean(result.bare, (r) => r.p99), 1)} | ${result.p99Ratio.toFixed(2)} | ` +
      `${fixed(mean(result.ours, (r) => r.cpuMs), 2)} / ${fixed(mean(result.bare, (r) => r.cpuMs), 2)} | ${peak(result.ours)} / ${peak(result.bare)} |`)
  }
  return results
}

async function latencyScenarios (server: RunningServer, headers: Record<string, string>): Promise<Array<{ scenario: string } & LoadRun>> {
  const match = JSON.stringify({ names: [{ name: companyName(1).toUpperCase() }, { name: `${companyName(10)} Ltd` }, { name: 'Unrelated Name Ltd' }] })
  const scenarios: Array<[string, LoadRequest]> = [
    ['facets, no filter', { path: '/v1/events/facets' }],
    ['facets, RU in 2022', { path: '/v1/events/facets?region=RU&date_from=2022-01-01&date_to=2022-12-31' }],
    ['time series, 2022 by month', { path: '/v1/events/timeseries?interval=month&date_from=2022-01-01&date_to=2022-12-31' }],
    ['time series, all by year', { path: '/v1/events/timeseries?interval=year' }],
    ['status RU as of 2023-06-30', { path: '/v1/status?region=RU&as_of=2023-06-30' }],
    ['status, all as of 2023-06-30', { path: '/v1/status?as_of=2023-06-30' }],
    ['company match, 3 names', { method: 'POST', path: '/v1/companies/match', body: match }]
  ]
  const results: Array<{ scenario: string } & LoadRun> = []
  say('\n| scenario (1 connection, target: median under 50 ms) | median ms | p99 ms | req/s |\n|---|---|---|---|')
  for (const [scenario, request] of scenarios) {
    const run = await load(server, { ...request, headers }, latency)
    if (run.non2xx > 0 || run.errors > 0) throw new Error(`${scenario}: ${run.non2xx} responses not 2xx, ${run.errors} errors`)
    results.push({ scenario, ...run })
    say(`| ${scenario} | ${fixed(run.p50, 1)} | ${fixed(run.p99, 1)} | ${fixed(run.rps)} |`)
  }
  return results
}

/** The read scenarios on the embedded database, loaded into a PGlite data directory first. */
async function pgliteScenarios (): Promise<{ events: number, loadSeconds: number, runs: Array<{ scenario: string } & LoadRun> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'market-exits-bench-pglite-'))
  try {
    const start = performance.now()
    await withDatabase({ dataDir }, async (database) => {
      await runMigrations(database)
      await loadDataset(database.db, pgliteSize)
    })
    const loadSeconds = (performance.now() - start) / 1000
    const reader = { authorization: await createKey({ dataDir }, ['read']) }
    const server = await startOurServer({ dataDir })
    try {
      const first = await (await fetch(`${server.url}/v1/events?limit=50`, { headers: reader })).json() as { data: Array<{ id: string }> }
      const nextId = cycle(first.data.map((e) => e.id))
      const scenarios: Array<[string, LoadRequest]> = [
        ['get by id', { path: '/', setup: () => ({ path: `/v1/events/${nextId()}` }) }],
        ['list, region and date range', { path: '/v1/events?region=RU&date_from=2022-01-01&date_to=2022-12-31&limit=50' }],
        ['list, q', { path: '/v1/events?q=livraisons&limit=50' }],
        ['list, page 1', { path: '/v1/events?limit=50' }]
      ]
      const runs: Array<{ scenario: string } & LoadRun> = []
      say(`\n| PGlite, ${fixed(pgliteSize.events)} events (10 connections) | req/s | p50 ms | p99 ms | peak RSS MB |\n|---|---|---|---|---|`)
      for (const [scenario, request] of scenarios) {
        const run = await load(server, { ...request, headers: reader }, pgliteLoad)
        if (run.non2xx > 0 || run.errors > 0) throw new Error(`PGlite ${scenario}: ${run.non2xx} responses not 2xx, ${run.errors} errors`)
        runs.push({ scenario, ...run })
        say(`| ${scenario} | ${fixed(run.rps)} | ${fixed(run.p50, 1)} | ${fixed(run.p99, 1)} | ${run.peakRssMb} |`)
      }
      return { events: pgliteSize.events, loadSeconds, runs }
    } finally {
      await server.stop()
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
}

const started = performance.now()
buildServer()
const databaseUrl = urlOf(`market_exits_bench_${size.events}`)
const [{ server_version: postgresVersion }] = await queryRows<{ server_version: string }>(POSTGRES_URL, 'SHOW server_version') as [{ server_version: string }]
// The dataset is loaded through the import path: the load is the import scenario.
let imported: ImportRun | undefined
if (!values.reuse) {
  await freshDatabase(`market_exits_bench_${size.events}`)
  imported = await importDataset(databaseUrl, size)
  // VACUUM as well as ANALYZE: right after a bulk load, the first reads of each page set its hint bits and write it
  // back, which made every scenario after the import slower than on the same database later (reads by id 0.71-0.73 of
  // bare against 0.97). Autovacuum would do it in time on a real server; it is off on this one.
  await queryRows(databaseUrl, 'VACUUM (ANALYZE)')
  say(`Loaded ${fixed(size.events)} events of ${fixed(size.companies)} companies into PostgreSQL ${postgresVersion} through POST /v1/imports`)
  say(`\n| import of ${fixed(imported.lines)} NDJSON lines | lines/s | seconds | server peak RSS MB |\n|---|---|---|---|`)
  say(`| plain COPY (floor) | ${fixed(imported.copyLinesPerSecond)} | ${(imported.lines / imported.copyLinesPerSecond).toFixed(1)} | |`)
  say(`| the rows stored, copied into tables like ours (floor) | ${fixed(imported.storedRowsLinesPerSecond)} | ${(imported.lines / imported.storedRowsLinesPerSecond).toFixed(1)} | |`)
  say(`| POST /v1/imports | ${fixed(imported.linesPerSecond)} | ${imported.seconds.toFixed(1)} | ${imported.peakRssMb} (idle ${imported.idleRssMb}) |`)
  say(`the stored rows' copy, by table (s): ${Object.entries(imported.storedRowsSeconds).map(([table, s]) => `${table} ${s.toFixed(1)}`).join(', ')}`)
  say(`ratio to plain COPY: ${(imported.linesPerSecond / imported.copyLinesPerSecond).toFixed(3)}; to the stored rows' copy: ${(imported.linesPerSecond / imported.storedRowsLinesPerSecond).toFixed(3)}`)
}

/** The comparisons, then (on the same server) the latencies and the export; PGlite starts its own. */
async function allScenarios () {
  const ours = await startOurServer({ databaseUrl }, { DB_STATEMENT_TIMEOUT_MS: '60000' })
  const bare = await startServer(['--import', 'tsx', 'bench/bare-server.ts'], { DATABASE_URL: databaseUrl }, '/readyz')
  try {
    const comparisons = await throughputScenarios({ ours, bare }, databaseUrl)
    await bare.stop()
    const exported = async () => {
      const exports = await measureExport(ours, databaseUrl)
      say(`\n| export of ${fixed(exports[0]!.rows)} events | rows/s | seconds | server peak RSS MB |\n|---|---|---|---|`)
      for (const run of exports) say(`| ${run.format} | ${fixed(run.rowsPerSecond)} | ${run.seconds.toFixed(1)} | ${run.peakRssMb || ''} |`)
      return exports
    }
    const latencies = async () => latencyScenarios(ours, { authorization: await createKey({ databaseUrl }, ['read']) })
    if (only !== undefined) {
      return {
        comparisons,
        ...('latency'.includes(only) ? { latencies: await latencies() } : {}),
        ...('export'.includes(only) ? { exports: await exported() } : {})
      }
    }
    const latencyRuns = await latencies()
    const exports = await exported()
    await ours.stop()
    return { comparisons, latencies: latencyRuns, exports, pglite: await pgliteScenarios() }
  } finally {
    await Promise.allSettled([ours.stop(), bare.stop()])
  }
}
const results = await allScenarios()

const seconds = (performance.now() - started) / 1000
say(`\nThe benchmark took ${seconds.toFixed(0)} s.`)
if (!quick && only === undefined) {
  const date = new Date().toISOString().slice(0, 10)
  mkdirSync('bench/results', { recursive: true })
  writeFileSync(`bench/results/${date}.json`, JSON.stringify({
    date,
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: postgresVersion, postgresUrl: new URL(POSTGRES_URL).host },
    dataset: size,
    settings: { throughput, latency },
    seconds,
    imported: imported ?? null,
    ...results
  }, null, 2) + '\n')
  say(`Results written to bench/results/${date}.json`)
}
