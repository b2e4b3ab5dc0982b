import { get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parse } from 'csv-parse/sync'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../../src/db/client.js'
import { neutraliseFormula } from '../../src/domain/export-formats.js'
import { CSV_COLUMNS } from '../../src/services/event-export.js'
import type { Event, EventList } from '../../src/schemas/events.js'
import { serverUrl } from '../database.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

t.test('NDJSON and CSV exports stream every matching event, in list order', async (t) => {
  const BATCH_ROWS = 40
  const app = await buildTestApp(t, { EXPORT_BATCH_ROWS: String(BATCH_ROWS) })
  const company = await createCompany(app, { name: '=Formula, "Quoted" Co' })
  const other = await createCompany(app, { name: 'Other' })
  const EVENTS = 7 * BATCH_ROWS + 3 // half of them match: more than three export batches, the last one partial
  const inserted: Event[] = []
  for (let i = 0; i < EVENTS; i++) {
    inserted.push(await createEvent(app, {
      company_id: i % 3 === 0 ? other.id : company.id,
      region: i % 2 === 0 ? 'UA' : 'RU',
      service: `Line ${i}`,
      date: `2022-0${1 + (i % 9)}-1${i % 10}`,
      summary: i === 1 ? '-5% stake, "sold"\nnext line' : null,
      sources: [{ url: `https://example.com/${i}` }, { url: `https://example.org/${i}` }]
    }))
  }
  const query = 'region=RU&sort=date'
  const pages: Event[] = []
  let cursor: string | null = null
  do {
    const page: EventList = (await app.inject({ url: `/v1/events?${query}&limit=50${cursor ? `&cursor=${cursor}` : ''}` })).json()
    pages.push(...page.data)
    cursor = page.next_cursor
  } while (cursor)

  const ndjson = await app.inject({ url: `/v1/events?${query}`, headers: { accept: 'application/x-ndjson' } })
  t.equal(ndjson.statusCode, 200)
  t.match(ndjson.headers['content-type'], /^application\/x-ndjson; charset=utf-8/)
  const lines = ndjson.body.trimEnd().split('\n').map((l) => JSON.parse(l))
  t.equal(lines.length, inserted.filter((e) => e.region === 'RU').length)
  t.same(lines, pages, 'the same events as the pages, in the same order, field for field')

  const csv = await app.inject({ url: `/v1/events?${query}`, headers: { accept: 'text/csv' } })
  t.equal(csv.statusCode, 200)
  t.match(csv.headers['content-type'], /^text\/csv; charset=utf-8/)
  t.match(csv.headers['content-disposition'], /attachment; filename="events.csv"/)
  t.ok(csv.body.startsWith(`${CSV_COLUMNS.join(',')}\r\n`), 'a header row, CRLF')
  const rows = parse(csv.body, { columns: true }) as Record<string, string>[]
  t.same(rows.map((r) => r.id), pages.map((e) => e.id))
  const tricky = rows.find((r) => r.id === inserted[1]!.id)!
  t.equal(tricky.summary, "'-5% stake, \"sold\"\nnext line", 'quotes, commas and newlines survive; a leading - is neutralised')
  t.equal(tricky.company_name, "'=Formula, \"Quoted\" Co", 'a leading = is neutralised')
  t.equal(tricky.source_urls, 'https://example.com/1 https://example.org/1')
  t.equal(tricky.source_count, '2')
  t.equal(tricky.effective_date, '', 'null is an empty cell')
})

t.test('exports refuse what does not apply, and Accept is negotiated', async (t) => {
  const app = await buildTestApp(t)
  await createEvent(app)
  for (const param of ['limit=10', 'cursor=abc']) {
    const res = await app.inject({ url: `/v1/events?${param}`, headers: { accept: 'text/csv' } })
    t.equal(res.statusCode, 400, param)
    t.match(res.json().errors, [{ in: 'querystring', pointer: `/${param.split('=')[0]}` }])
  }
  const badFilter = await app.inject({ url: '/v1/events?region=XX', headers: { accept: 'application/x-ndjson' } })
  t.equal(badFilter.statusCode, 400, 'a bad filter is a 400 before anything streams')
  t.match(badFilter.headers['content-type'], /problem\+json/)
  const none = await app.inject({ url: '/v1/events', headers: { accept: 'image/png' } })
  t.equal(none.statusCode, 406)
  t.equal(none.json().type, '/problems/not-acceptable')
  const empty = await app.inject({ url: '/v1/events?region=FR', headers: { accept: 'text/csv' } })
  t.equal(empty.body, `${CSV_COLUMNS.join(',')}\r\n`, 'no match: the header row alone')
  const json = await app.inject({ url: '/v1/events', headers: { accept: 'text/html, application/json;q=0.9' } })
  t.equal(json.statusCode, 200)
  t.equal(json.json().data.length, 1)
  const gz = await app.inject({ url: '/v1/events', headers: { accept: 'application/x-ndjson', 'accept-encoding': 'gzip', ...await authHeader(app, ['read']) } })
  t.equal(gz.headers['content-encoding'], 'gzip', 'exports are compressed when the client allows')
})

t.test('a client that leaves mid-export frees the database', { skip: serverUrl ? false : 'the cursor export runs on a server' }, async (t) => {
  const app = await buildTestApp(t, { EXPORT_BATCH_ROWS: '100' })
  const company = await createCompany(app)
  await app.db.execute(sql`INSERT INTO events (id, company_id, region, service, action, date)
    SELECT gen_random_uuid(), ${company.id}, 'RU', 'Line ' || i, 'exit', DATE '2022-01-01' + (i % 300) FROM generate_series(1, 5000) i`)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (let attempt = 0; attempt < 6; attempt++) {
    await new Promise<void>((resolve, reject) => {
      const req = get({ host: '127.0.0.1', port, path: '/v1/events', headers: { accept: 'application/x-ndjson' } }, (res) => {
        res.once('data', () => { req.destroy(); resolve() })
      })
      req.on('error', (err) => (err.message === 'socket hang up' ? resolve() : reject(err)))
    })
  }
  // The test pool has five connections: six abandoned exports would leave nothing to serve with if their cursors stayed open.
  let open = 1
  for (let i = 0; i < 50 && open > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    const [row] = await queryRows<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND state = 'idle in transaction'`)
    open = row!.n
  }
  t.equal(open, 0, 'no transaction is left open')
  const page = await app.inject({ url: '/v1/events?limit=1' })
  t.equal(page.statusCode, 200)
})

t.test('an export has its own time bounds, not a request\'s', { skip: serverUrl ? false : 'the COPY export runs on a server' }, async (t) => {
  const app = await buildTestApp(t, { DB_STATEMENT_TIMEOUT_MS: '200', EXPORT_TIMEOUT_MS: '2000' })
  const company = await createCompany(app)
  for (let i = 0; i < 3; i++) await createEvent(app, { company_id: company.id, service: `Held ${i}` })
  // Another session holds the table for longer than a request's statement may take (pg gives up reading after 1.2 s).
  const blocker = await app.database.pool!.connect()
  await blocker.query('BEGIN; SET LOCAL idle_in_transaction_session_timeout = 0; LOCK TABLE events IN ACCESS EXCLUSIVE MODE')
  const released = new Promise<void>((resolve) => setTimeout(() => { blocker.query('COMMIT').finally(() => { blocker.release(); resolve() }) }, 1600))
  const res = await app.inject({ url: '/v1/events', headers: { accept: 'application/x-ndjson' } })
  await released
  t.equal(res.statusCode, 200, 'the export waited for the lock instead of answering 503')
  t.equal(res.body.trimEnd().split('\n').length, 3)
  // pg's read timer for the COPY (the export timeout and a second) must not outlive it: it kept the process alive,
  // then failed the finished stream.
  await new Promise((resolve) => setTimeout(resolve, 2000))
  t.equal((await app.inject({ url: '/v1/events?limit=1' })).statusCode, 200, 'nothing fires after the export ended')
})

t.test('filter values reach the export as values, quotes and backslashes included', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: "O'Brien \\ Sons" })
  await createEvent(app, { company_id: company.id, service: "L'usine \\' OR '1'='1" })
  await createEvent(app, { company_id: company.id, service: 'Other' })
  for (const [filter, expected] of [[`service=${encodeURIComponent("usine \\' OR")}`, 1], [`company=${encodeURIComponent("O'Brien \\")}`, 2], [`service=${encodeURIComponent("' OR '1'='1' --")}`, 0]] as const) {
    for (const accept of ['application/x-ndjson', 'text/csv']) {
      const res = await app.inject({ url: `/v1/events?${filter}`, headers: { accept } })
      t.equal(res.statusCode, 200, `${filter} as ${accept}`)
      const rows = res.body.split(accept === 'text/csv' ? '\r\n' : '\n').filter((l) => l !== '').length - (accept === 'text/csv' ? 1 : 0)
      t.equal(rows, expected, `${filter} as ${accept}: ${expected} events`)
    }
  }
})

t.test('an NDJSON line and a CSV record are the event as a read by id shows it, whatever characters its text holds', async (t) => {
  const app = await buildTestApp(t)
  const tricky = 'tab\there, back\\slash, \\N, \\t, line\nfeed\r\n, \b\f\u000b\u0001\u001f, "quoted", Ёлка 😀 é'
  const company = await createCompany(app, { name: `Company ${tricky}`, country: 'FR' })
  const created = [
    await createEvent(app, {
      company_id: company.id,
      service: `Service ${tricky}`,
      summary: tricky,
      external_id: `ext\t${tricky}`,
      date: '2022-03-01',
      effective_date: '2022-04-15',
      sources: [
        { url: 'https://example.com/a?q=1\\2', publisher: tricky, title: tricky, published_date: '2022-02-28', language: 'ru', quote: tricky, kind: 'media_report', archived_url: 'https://archive.org/a', license: 'CC BY 4.0' },
        { url: 'https://example.org/b', license: 'CC0 1.0' },
        { url: 'https://example.net/c', license: 'CC BY 4.0' }
      ]
    }),
    await createEvent(app, { company_id: company.id, summary: null, date: '2021-01-01' })
  ]
  const res = await app.inject({ url: '/v1/events', headers: { accept: 'application/x-ndjson' } })
  t.equal(res.statusCode, 200)
  t.ok(res.body.endsWith('}\n'), 'the last line ends with a line feed')
  const lines = res.body.slice(0, -1).split('\n')
  t.equal(lines.length, 2, 'every character that could end a line is escaped')
  const csv = await app.inject({ url: '/v1/events', headers: { accept: 'text/csv' } })
  t.equal(csv.statusCode, 200)
  const records = parse(csv.body, { columns: true }) as Record<string, string>[]
  t.equal(records.length, 2)
  const cell = (value: string | number | null) => value === null ? '' : typeof value === 'number' ? String(value) : neutraliseFormula(value)
  for (const [i, event] of created.entries()) {
    const read: Event = (await app.inject({ url: `/v1/events/${event.id}` })).json()
    t.same(JSON.parse(lines[i]!), read, `event ${i}: field for field`)
    t.same(records[i], {
      id: read.id,
      company_id: read.company_id,
      company_name: cell(read.company.name),
      region: read.region,
      service: cell(read.service),
      action: read.action,
      date: read.date,
      date_precision: read.date_precision,
      effective_date: cell(read.effective_date),
      summary: cell(read.summary),
      external_id: cell(read.external_id),
      source_count: String(read.source_count),
      source_urls: read.sources.map((s) => s.url).join(' '),
      source_licenses: i === 0 ? 'CC BY 4.0; CC0 1.0' : '',
      created_at: read.created_at,
      updated_at: read.updated_at,
      version: String(read.version)
    }, `event ${i}: its CSV record, cell for cell`)
  }
})

t.test('a CSV cell with a bare line feed or carriage return is quoted: every reader sees one record per event', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app, { name: 'Line\nBreak Co' })
  const summaries = ['line1\nline2', 'a\rb', '\n=newline', 'plain']
  for (const [i, summary] of summaries.entries()) await createEvent(app, { company_id: company.id, summary, date: `2022-03-0${i + 1}` })
  const res = await app.inject({ url: '/v1/events?sort=date', headers: { accept: 'text/csv' } })
  t.equal(res.statusCode, 200)
  // A reader that ends records at any line break, as many do (Python's csv, spreadsheets).
  const records = parse(res.body, { columns: true, record_delimiter: ['\r\n', '\n', '\r'] }) as Record<string, string>[]
  t.same(records.map((r) => r.summary), summaries)
  t.same(records.map((r) => r.company_name), summaries.map(() => 'Line\nBreak Co'))
})
