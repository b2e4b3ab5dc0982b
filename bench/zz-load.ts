import { createDb } from '/work/main/src/db/client.js'
import { runMigrations } from '/work/main/src/db/migrate.js'
import { loadDataset } from '/work/main/bench/dataset.js'
import pg from 'pg'
const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' })
await admin.connect()
await admin.query('DROP DATABASE IF EXISTS me_bench WITH (FORCE)')
await admin.query('CREATE DATABASE me_bench')
await admin.end()
const d = await createDb({ databaseUrl: 'postgres://postgres@127.0.0.1:5432/me_bench', dataDir: 'memory://', statementTimeoutMs: 3_600_000 })
await runMigrations(d)
const t0 = Date.now()
await loadDataset(d.db, { companies: 20000, events: Number(process.argv[2] ?? 1000000), seed: 42 })
console.log('loaded in', Date.now() - t0, 'ms')
await d.close()
