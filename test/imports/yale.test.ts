import { createReadStream, existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parse } from 'csv-parse/sync'
import { sql } from 'drizzle-orm'
import t from 'tap'
import type { App } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import { YALE_SOURCE } from '../../src/domain/yale-celi.js'
import { serverUrl } from '../database.js'
import { authHeader, buildTestApp } from '../helper.js'

// The Yale CELI files are not in the repository (CC BY-NC-SA 4.0): they sit next to it, in ../shared/data.
const DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url))
const LATEST = `${DATA}yale_celi_russia_2025-05-21.csv`
const SNAPSHOTS = `${DATA}yale_celi_russia_snapshots.csv`
const skip = existsSync(LATEST) && existsSync(SNAPSHOTS)
  ? false
  : `the Yale CELI files are not in ${DATA} (../shared/data next to the repository), so the real-data imports cannot run`

// 20,222 rows twice take two minutes on the embedded database, most of CI's budget for it; there the latest list
// (1,590 rows) runs, and the snapshots run on PostgreSQL, through the same import code.
const skipSnapshots = skip || (serverUrl ? false : 'the snapshots run in the PostgreSQL suite; the embedded suite imports the latest list')

async function importFile (app: App, headers: Record<string, string>, file: string, query: string) {
  const res = await app.inject({
    method: 'POST', url: `/v1/imports?${query}`, headers: { ...headers, 'content-type': 'text/csv' }, payload: createReadStream(file)
  })
  if (res.statusCode !== 202) throw new Error(`import answered ${res.statusCode}: ${res.body}`)
  const all = (await app.inject({ url: `/v1/imports/${res.json().id}?limit=1000` })).json()
  return all
}

const rowsOf = async (file: string) => (parse(await readFile(file), { columns: true, bom: true }) as Record<string, string>[])
const count = async (app: App, query: string) => (await queryRows<{ n: number }>(app.db, sql.raw(query)))[0]!.n

t.test('the latest Yale list: every row accounted for, the duplicate reported, a second import changes nothing', { skip }, async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const rows = await rowsOf(LATEST)
  t.equal(rows.length, 1590)

  const first = await importFile(app, headers, LATEST, 'format=yale-celi&date=2025-05-21')
  t.match(first, { status: 'done', format: 'yale-celi', progress: { lines_done: rows.length, lines_total: rows.length } })
  const { created, updated, unchanged, rejected } = first.counts
  t.equal(created + updated + unchanged + rejected, rows.length, 'every row has an outcome')
  t.same(first.counts, { created: 1589, updated: 0, unchanged: 0, rejected: 1 })
  // STIHL (Germany) is listed twice, with grades B and D: the second is reported, not lost.
  const stihl = rows.flatMap((r, i) => r.name!.trim() === 'STIHL' ? [i + 1] : [])
  t.equal(stihl.length, 2)
  t.same(first.errors, [{ line: stihl[1], field: '/external_id', message: `duplicate of line ${stihl[0]}` }])

  t.equal(await count(app, 'SELECT count(*)::int AS n FROM events'), 1589)
  t.equal(await count(app, "SELECT count(*)::int AS n FROM events WHERE region = 'RU' AND service = 'All operations' AND date = '2025-05-21'"), 1589)
  // Grades to actions, per the contract: A 546, B 502, C 152, D 177, F 213, less STIHL's second row (B), rejected.
  const actions = await queryRows<{ action: string, n: number }>(app.db, sql`SELECT action, count(*)::int AS n FROM events GROUP BY action ORDER BY action`)
  t.same(Object.fromEntries(actions.map((a) => [a.action, a.n])), { continue: 213, exit: 546, pause_new_business: 177, scale_back: 152, suspend: 501 })
  const [source] = (await app.inject({ url: `/v1/sources?url=${encodeURIComponent(YALE_SOURCE.url)}` })).json().data
  t.match(source, { kind: 'dataset', license: 'CC BY-NC-SA 4.0', publisher: YALE_SOURCE.publisher, event_count: 1589 })
  const coesia = (await app.inject({ url: '/v1/events?company=coesia' })).json().data
  t.match(coesia, [{ company: { name: 'Coesia Group' }, action: 'continue', summary: 'Many companies in group have Russia operations or partners' }])
  const ampersand = await count(app, "SELECT count(*)::int AS n FROM companies WHERE name LIKE '%&amp;%'")
  t.equal(ampersand, 0, 'HTML entities are unescaped')
  const agrana = (await app.inject({ url: '/v1/companies?q=Agrana' })).json().data[0]
  t.match(agrana, { name: 'Agrana', country: 'AT', sector: 'Consumer Staples' })
  const revisionsBefore = await count(app, 'SELECT count(*)::int AS n FROM revisions')

  const second = await importFile(app, headers, LATEST, 'format=yale-celi&date=2025-05-21')
  t.same(second.counts, { created: 0, updated: 0, unchanged: 1589, rejected: 1 }, 'every line unchanged but the duplicate, reported again')
  t.equal(await count(app, 'SELECT count(*)::int AS n FROM revisions'), revisionsBefore, 'no history row')
  t.equal(await count(app, 'SELECT count(*)::int AS n FROM companies'), await count(app, 'SELECT count(DISTINCT company_id)::int AS n FROM events'), 'companies were matched, not created again')
})

t.test('the Yale snapshots: a dated history, every row accounted for, duplicates reported, a second import changes nothing', { skip: skipSnapshots }, async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const rows = await rowsOf(SNAPSHOTS)
  t.equal(rows.length, 20222)

  const first = await importFile(app, headers, SNAPSHOTS, 'format=yale-celi-snapshots')
  t.match(first, { status: 'done', progress: { lines_total: rows.length } })
  t.same(first.counts, { created: 20214, updated: 0, unchanged: 0, rejected: 8 })
  // UiPath's empty grade (2023-09-22), and seven names listed twice in one copy (STIHL, Systemair).
  const emptyGrade = rows.findIndex((r) => r.grade === '') + 1
  t.match(first.errors.find((e: { field: string }) => e.field === '/grade'), { line: emptyGrade, message: 'is empty' })
  const duplicates = first.errors.filter((e: { message: string }) => e.message.startsWith('duplicate of line'))
  t.equal(duplicates.length, 7)
  for (const d of duplicates) {
    const original = Number(/line (\d+)/.exec(d.message)![1])
    const [a, b] = [rows[original - 1]!, rows[d.line - 1]!]
    t.same([b.snapshot_date, b.name!.toLowerCase()], [a.snapshot_date, a.name!.toLowerCase()], `line ${d.line} repeats line ${original}`)
  }
  t.equal(await count(app, 'SELECT count(DISTINCT date)::int AS n FROM events'), 13, 'one date per snapshot')
  // Unilever went from D (buying time) to A (withdrawal) between the last two copies.
  const unilever = (await app.inject({ url: '/v1/events?company=unilever&sort=date&limit=200' })).json().data
  t.equal(unilever.length, 13)
  t.match(unilever.at(-2), { action: 'pause_new_business', date: '2024-02-25' })
  t.match(unilever.at(-1), { action: 'exit', date: '2025-05-21' })
  const status = (await app.inject({ url: '/v1/status?company_id=' + unilever[0].company_id + '&as_of=2024-12-31' })).json()
  t.match(status.data, [{ action: 'pause_new_business', date: '2024-02-25' }])

  const second = await importFile(app, headers, SNAPSHOTS, 'format=yale-celi-snapshots')
  t.same(second.counts, { created: 0, updated: 0, unchanged: 20214, rejected: 8 })
})
