import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import pg from 'pg'
import t from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import type { Change, ChangeList } from '../../src/schemas/changes.js'
import { freshDatabase, serverUrl } from '../database.js'
import { authHeader, buildTestApp, testConfig } from '../helper.js'

async function readFeed (app: App, after?: string, limit = 100): Promise<ChangeList> {
  const query = new URLSearchParams({ limit: String(limit), ...(after === undefined ? {} : { after }) })
  const res = await app.inject({ url: `/v1/changes?${query}` })
  if (res.statusCode !== 200) throw new Error(`feed answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

async function write (app: App, headers: Record<string, string>, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) {
  const res = await app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body}`)
  return res.statusCode === 204 ? undefined : res.json()
}

t.test('the feed lists every write in order, with the resource after it', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await write(app, headers, 'POST', '/v1/companies', { name: 'Feed Co' })
  const event = await write(app, headers, 'POST', '/v1/events', {
    company_id: company.id, region: 'RU', service: 'Retail', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://example.com/a' }]
  })
  await write(app, headers, 'PATCH', `/v1/events/${event.id}`, { action: 'exit' })
  await write(app, headers, 'DELETE', `/v1/events/${event.id}`)

  const page = await readFeed(app)
  t.same(page.data.map((c) => [c.type, c.resource_id, c.version]), [
    ['company.created', company.id, 1],
    ['event.created', event.id, 1],
    ['event.updated', event.id, 2],
    ['event.deleted', event.id, 3]
  ])
  t.match(page.data[0], { data: { id: company.id, name: 'Feed Co' }, occurred_at: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/ })
  t.match(page.data[2]!.data, { id: event.id, action: 'exit', version: 2 })
  t.equal(page.data[3]!.data, null, 'a delete carries no data')

  const firstTwo = await readFeed(app, undefined, 2)
  t.equal(firstTwo.data.length, 2)
  const rest = await readFeed(app, firstTwo.next_cursor)
  t.same([...firstTwo.data, ...rest.data].map((c) => c.id), page.data.map((c) => c.id), 'pages join without gap or repeat')

  const empty = await readFeed(app, page.next_cursor)
  t.same(empty, { data: [], next_cursor: page.next_cursor }, 'the end of the feed hands back its cursor')
  await write(app, headers, 'PATCH', `/v1/companies/${company.id}`, { sector: 'Retail' })
  const later = await readFeed(app, empty.next_cursor)
  t.same(later.data.map((c) => c.type), ['company.updated'], 'polling the same cursor finds the next change')
})

t.test('bad requests to the feed are 400 problems naming the field', async (t) => {
  const app = await buildTestApp(t)
  for (const [query, pointer] of [
    ['after=not-a-cursor', null],
    [`after=${Buffer.from(JSON.stringify({ t: '99999999999999999999999', i: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e' })).toString('base64url')}`, null],
    ['limit=0', '/limit'],
    ['limit=1001', '/limit'],
    ['since=1', null]
  ] as const) {
    const res = await app.inject({ url: `/v1/changes?${query}` })
    t.equal(res.statusCode, 400, query)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    if (pointer) t.match(res.json().errors, [{ in: 'querystring', pointer }], query)
  }
})

// Many writers commit out of the order in which their transactions took their ids (a trigger sleeps a
// random moment after each history row, before the commit); a poller reads the feed all along.
t.test('a poller misses no change while many writers commit out of order', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  await app.db.execute(sql`CREATE FUNCTION test_commit_jitter() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN PERFORM pg_sleep(random() * 0.02); RETURN NULL; END $$`)
  await app.db.execute(sql`CREATE TRIGGER test_commit_jitter AFTER INSERT ON revisions FOR EACH ROW EXECUTE FUNCTION test_commit_jitter()`)

  const WRITERS = 12
  const ROUNDS = 8
  // Once the writers are done, the poller reads on until it has as many changes as the database holds, or
  // gives up after a while: transactions of other tests on the same server may hold the feed back for a moment.
  const writers: { recorded?: number } = {}
  const seen: Change[] = []
  const poller = (async () => {
    let cursor: string | undefined
    let deadline: number | undefined
    while (writers.recorded === undefined || (seen.length < writers.recorded && Date.now() < deadline!)) {
      if (writers.recorded !== undefined) deadline ??= Date.now() + 60_000
      const page = await readFeed(app, cursor, 37)
      seen.push(...page.data)
      cursor = page.next_cursor
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    // One more read: a feed that shows more than the database holds is wrong too.
    seen.push(...(await readFeed(app, cursor)).data)
  })()

  const writer = async (w: number) => {
    for (let round = 0; round < ROUNDS; round++) {
      const company = await write(app, headers, 'POST', '/v1/companies', { name: `Writer ${w} company ${round}` })
      const event = await write(app, headers, 'POST', '/v1/events', {
        company_id: company.id, region: 'UA', service: `Line ${round}`, action: 'suspend', date: '2022-04-01', sources: [{ url: `https://example.com/${w}/${round}` }]
      })
      await write(app, headers, 'PATCH', `/v1/events/${event.id}`, { action: 'exit' })
      await write(app, headers, 'PATCH', `/v1/companies/${company.id}`, { sector: 'Energy' })
      if (round % 2 === 0) await write(app, headers, 'DELETE', `/v1/events/${event.id}`)
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))
  const recorded = await queryRows<{ id: string }>(app.db, sql`SELECT id FROM revisions`)
  writers.recorded = recorded.length
  await poller

  const seenIds = seen.map((c) => c.id)
  t.equal(new Set(seenIds).size, seenIds.length, 'no change is seen twice')
  t.same(new Set(seenIds), new Set(recorded.map((r) => r.id)), 'the poller saw exactly the changes in the database')
  t.equal(seen.length, WRITERS * ROUNDS * (4 + 0.5), 'every write was seen')

  const lastSeen = new Map<string, Change>()
  let outOfOrder = 0
  for (const change of seen) {
    const previous = lastSeen.get(change.resource_id)
    if (previous && previous.version >= change.version) outOfOrder++
    lastSeen.set(change.resource_id, change)
  }
  t.equal(outOfOrder, 0, 'the changes of each resource come in version order')
  const current = await queryRows<{ id: string, version: number, deleted: boolean }>(app.db, sql`
    SELECT id, version, deleted_at IS NOT NULL AS deleted FROM events
    UNION ALL SELECT id, version, deleted_at IS NOT NULL FROM companies`)
  const stale = current.filter((row) => {
    const change = lastSeen.get(row.id)
    return !change || change.version !== row.version || change.type.endsWith('.deleted') !== row.deleted
  })
  t.same(stale, [], 'replaying the feed yields the database\'s current state')
  t.comment(`${WRITERS} writers × ${ROUNDS} rounds: ${seen.length} changes polled in pages of 37`)
})

// On a server, the feed waits for open transactions of its own database only.
t.test('an open transaction holds the feed back in its own database, not in another', { skip: serverUrl ? false : 'PGlite has one connection' }, async (t) => {
  const { database, url, drop } = await freshDatabase()
  const app = await buildApp(testConfig(), { database, logger: false })
  t.teardown(async () => { await app.close(); await drop() })
  const headers = await authHeader(app)
  const hold = async (connectionString: string) => {
    const client = new pg.Client({ connectionString })
    await client.connect()
    await client.query('BEGIN')
    await client.query('SELECT pg_current_xact_id()')
    return client
  }
  const write = async (name: string) => (await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name } })).json().id

  const elsewhere = await hold(serverUrl!)
  const first = await write('Seen while another database has an open transaction')
  // A transaction of another database that ends between the feed's snapshot and its read of pg_stat_activity holds one
  // read back (src/services/changes.ts); on a busy server (other suites' databases) that happens: read again, a while.
  let seen = false
  for (let reads = 0; reads < 40 && !seen; reads++) {
    if (reads > 0) await sleep(25)
    seen = (await readFeed(app)).data.some((c) => c.resource_id === first)
  }
  t.ok(seen, 'another database\'s transaction does not hold the feed')
  await elsewhere.query('ROLLBACK')
  await elsewhere.end()

  const here = await hold(url!)
  const second = await write('Held back')
  t.notOk((await readFeed(app)).data.some((c) => c.resource_id === second), 'an older open transaction of this database holds it back')
  await here.query('COMMIT')
  await here.end()
  t.ok((await readFeed(app)).data.some((c) => c.resource_id === second), 'and releases it when it ends')
})
