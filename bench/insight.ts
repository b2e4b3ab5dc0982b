import { parseArgs } from 'node:util'
import pg from 'pg'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import { createDb } from '../src/db/client.js'
import { runMigrations } from '../src/db/migrate.js'
import { loadDataset } from './dataset.js'

/**
 * Loads the deterministic dataset into a fresh PostgreSQL database and prints the median latency of the
 * insight endpoints, in process (app.inject), after a warm-up. `--quick` runs a small version for CI.
 */
const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, runs: { type: 'string', default: '9' } } })
const size = values.quick ? { companies: 500, events: 10_000, seed: 42 } : { companies: 20_000, events: 1_000_000, seed: 42 }
const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const name = `market_exits_bench_${size.events}`

const admin = new pg.Client({ connectionString: serverUrl })
await admin.connect()
await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
await admin.query(`CREATE DATABASE "${name}"`)
await admin.end()
const url = new URL(serverUrl)
url.pathname = `/${name}`

const database = await createDb({ databaseUrl: url.href, dataDir: 'memory://', statementTimeoutMs: 3_600_000 })
await runMigrations(database)
const loadStart = performance.now()
await loadDataset(database.db, size)
console.log(`loaded ${size.events} events of ${size.companies} companies in ${((performance.now() - loadStart) / 1000).toFixed(1)} s`)

// Every request comes from one address: the per-IP limit would stop the run, and it is not what is measured.
const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_KEY: '0' }), { database, logger: false })
const match = { names: [{ name: 'Karotor Ka 1' }, { name: 'Компания 10' }, { name: 'Unrelated Name Ltd' }] }
const scenarios: Array<[string, Parameters<typeof app.inject>[0]]> = [
  ['facets, no filter', { url: '/v1/events/facets' }],
  ['facets, RU in 2022', { url: '/v1/events/facets?region=RU&date_from=2022-01-01&date_to=2022-12-31' }],
  ['time series, 2022 by month', { url: '/v1/events/timeseries?interval=month&date_from=2022-01-01&date_to=2022-12-31' }],
  ['time series, all by year', { url: '/v1/events/timeseries?interval=year' }],
  ['status RU as of 2023-06-30', { url: '/v1/status?region=RU&as_of=2023-06-30' }],
  ['status, all as of 2023-06-30', { url: '/v1/status?as_of=2023-06-30' }],
  ['status changes RU, one year', { url: '/v1/status/changes?region=RU&from=2022-06-01&to=2023-06-01' }],
  ['companies, fuzzy q', { url: '/v1/companies?q=karotr' }],
  ['company match, 3 names', { method: 'POST', url: '/v1/companies/match', payload: match }],
  ['events list RU 2022 (reference)', { url: '/v1/events?region=RU&date_from=2022-01-01&date_to=2022-12-31' }]
]
const runs = Number(values.runs)
console.log('| scenario | median ms | min ms | max ms |\n|---|---|---|---|')
for (const [label, request] of scenarios) {
  await app.inject(request)
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const start = performance.now()
    const res = await app.inject(request)
    times.push(performance.now() - start)
    if (res.statusCode !== 200) throw new Error(`${label}: ${res.statusCode} ${res.body}`)
  }
  times.sort((a, b) => a - b)
  const ms = (v: number) => v.toFixed(1)
  console.log(`| ${label} | ${ms(times[Math.floor(runs / 2)]!)} | ${ms(times[0]!)} | ${ms(times.at(-1)!)} |`)
}
await app.close()
