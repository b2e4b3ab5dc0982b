import { randomBytes } from 'node:crypto'
import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import type { Event } from '../../src/schemas/events.js'
import { SYSTEM_ACTOR } from '../../src/services/revisions.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

type SortName = '-date' | 'date' | '-created_at' | 'created_at' | '-updated_at' | 'updated_at'
const SORTS: SortName[] = ['-date', 'date', '-created_at', 'created_at', '-updated_at', 'updated_at']

const REGIONS = ['RU', 'BY', 'UA', 'UA-43', 'KZ']
// Few dates for many events, so that long runs of ties cross page boundaries.
const DATES = ['2022-02-24', '2022-03-01', '2022-03-02', '2022-03-08', '2022-03-09', '2022-03-10',
  '2022-03-15', '2022-04-01', '2022-05-20', '2022-06-30', '2023-01-01', '2024-12-31']

/** The sort key of an event as a string that orders as the key does. */
const keyOf = (e: Event, sort: SortName) => e[sort.replace('-', '') as 'date' | 'created_at' | 'updated_at']

/** -1, 0 or 1 as `a` comes before, with or after `b` under the contract's order: the key, then id, in one direction. */
function compare (a: Event, b: Event, sort: SortName): number {
  const ka = keyOf(a, sort)
  const kb = keyOf(b, sort)
  const asc = ka !== kb ? (ka < kb ? -1 : 1) : (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  return sort.startsWith('-') ? -asc : asc
}

const expectedOrder = (rows: Event[], sort: SortName) => [...rows].sort((a, b) => compare(a, b, sort)).map((e) => e.id)

function page (app: App, query: Record<string, string>) {
  return app.inject({ url: '/v1/events', query })
}

interface Walk { events: Event[], pages: number, lastCursor: unknown, ok: boolean }

interface Hooks { before?: () => Promise<unknown>, during?: () => Promise<unknown> }

/** Follows next_cursor from the first page to the last; `before` runs ahead of each page fetch, `during` alongside it. */
async function walk (t: Test, app: App, query: Record<string, string>, hooks: Hooks = {}): Promise<Walk> {
  const events: Event[] = []
  let cursor: string | null = null
  let pages = 0
  do {
    await hooks.before?.()
    const [res]: [LightMyRequestResponse, unknown] = await Promise.all([page(app, cursor === null ? query : { ...query, cursor }), hooks.during?.()])
    pages++
    if (res.statusCode !== 200) {
      t.fail(`page ${pages} of ${JSON.stringify(query)}: ${res.statusCode} ${res.body}`)
      return { events, pages, lastCursor: cursor, ok: false }
    }
    const body: { data: Event[], next_cursor: string | null } = res.json()
    events.push(...body.data)
    cursor = body.next_cursor
    if (cursor !== null && body.data.length !== Number(query.limit)) {
      t.fail(`page ${pages} is short (${body.data.length}) but has a next page`)
      return { events, pages, lastCursor: cursor, ok: false }
    }
  } while (cursor !== null && pages < 200)
  return { events, pages, lastCursor: cursor, ok: true }
}

/** True when each event comes strictly after the one before it in this sort. */
function isSorted (events: Event[], sort: SortName): boolean {
  return events.every((e, i) => i === 0 || compare(events[i - 1]!, e, sort) < 0)
}

t.test('300 events: every sort order walks each event exactly once, in order, also under concurrent inserts', async (t) => {
  const app = await buildTestApp(t)
  const companies = await Promise.all(['Amazon', 'Ozon', 'Yandex', 'Société Générale', 'Wildberries']
    .map((name) => createCompany(app, { name })))

  let n = 0
  const make = (date: string = DATES[n % DATES.length]!) => {
    const i = n++
    return createEvent(app, {
      company_id: companies[i % companies.length]!.id,
      region: REGIONS[i % REGIONS.length]!,
      service: `Service ${i % 7}`,
      action: i % 2 === 0 ? 'exit' : 'suspend',
      date
    })
  }

  const created: Event[] = []
  for (let batch = 0; batch < 15; batch++) {
    created.push(...await Promise.all(Array.from({ length: 20 }, () => make())))
  }
  t.equal(created.length, 300)
  t.equal(new Set(created.map((e) => e.id)).size, 300, '300 distinct events')

  // Change one event in ten, oldest last, so that updated_at orders differently from created_at.
  const byId = new Map(created.map((e) => [e.id, e]))
  const changes = created.filter((_, i) => i % 10 === 0).reverse()
  for (let i = 0; i < changes.length; i += 20) {
    const updated = await Promise.all(changes.slice(i, i + 20).map((e) =>
      app.services.events.update(e.id, { summary: 'changed' }, undefined, SYSTEM_ACTOR)))
    for (const e of updated) byId.set(e.id, e)
  }
  const originals = [...byId.values()]
  t.not(expectedOrder(originals, 'updated_at').join(), expectedOrder(originals, 'created_at').join(), 'updated_at orders differently')

  t.test('a quiet walk returns exactly the expected order', async (t) => {
    for (const sort of SORTS) {
      const result = await walk(t, app, { sort, limit: '29' })
      if (!result.ok) continue
      t.equal(result.pages, 11, `${sort}: 10 full pages and one of 10`)
      t.equal(result.lastCursor, null, `${sort}: the last page has next_cursor null`)
      t.same(result.events.map((e) => e.id), expectedOrder(originals, sort), `${sort}: each event once, in order`)
    }
  })

  t.test('a walk while events are inserted between and during page fetches', async (t) => {
    const existing = new Map(originals.map((e) => [e.id, e]))
    for (const [s, sort] of SORTS.entries()) {
      const before = [...existing.keys()]
      const inserted: Event[] = []
      // Some new events fall before the cursor and some after it; one more is written while the page is read.
      const insertSome = async () => {
        for (const date of [DATES[(s + inserted.length) % DATES.length]!, '2022-03-08', '2099-01-01']) {
          inserted.push(await make(date))
        }
      }
      const insertOne = async () => inserted.push(await make('2021-01-01'))
      const result = await walk(t, app, { sort, limit: '29' }, { before: insertSome, during: insertOne })
      if (!result.ok) continue
      const seen = new Map<string, number>()
      for (const e of result.events) seen.set(e.id, (seen.get(e.id) ?? 0) + 1)
      t.ok(inserted.length > 0, `${sort}: events were inserted`)
      t.equal(result.lastCursor, null, `${sort}: ends on a last page`)
      t.same(before.filter((id) => seen.get(id) !== 1), [], `${sort}: every event that existed throughout appears exactly once`)
      t.same([...seen.entries()].filter(([, count]) => count > 1), [], `${sort}: no event repeats`)
      const known = new Map([...existing, ...inserted.map((e) => [e.id, e] as const)])
      t.ok(result.events.every((e) => known.has(e.id)), `${sort}: only known events`)
      // Compare with the stored keys, so that the check does not rest on the page's own fields alone.
      t.ok(isSorted(result.events.map((e) => known.get(e.id)!), sort), `${sort}: the sequence stays sorted`)
      for (const e of inserted) existing.set(e.id, e)
    }
  })
})

t.test('cursors belong to their query; bad cursors are 400 problems', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const company = await createCompany(app)
  const events: Event[] = []
  for (const [i, date] of ['2022-03-01', '2022-03-01', '2022-03-01', '2022-03-02', '2022-03-02', '2022-03-03', '2022-03-04', '2022-03-04', '2022-03-05'].entries()) {
    events.push(await createEvent(app, { company_id: company.id, date, region: i % 2 === 0 ? 'RU' : 'BY', action: 'exit' }))
  }
  const order = expectedOrder(events, '-date')

  const first = await page(app, { limit: '3' })
  t.equal(first.statusCode, 200)
  t.same(first.json().data.map((e: Event) => e.id), order.slice(0, 3))
  const cursor: string = first.json().next_cursor
  t.type(cursor, 'string')

  t.test('a cursor with another page size still works', async (t) => {
    const res = await page(app, { limit: '5', cursor })
    t.equal(res.statusCode, 200)
    t.same(res.json().data.map((e: Event) => e.id), order.slice(3, 8))
    const last = await page(app, { limit: '5', cursor: res.json().next_cursor })
    t.equal(last.statusCode, 200)
    t.same(last.json().data.map((e: Event) => e.id), order.slice(8))
    t.equal(last.json().next_cursor, null)
  })

  t.test('a last page that is exactly full ends the walk', async (t) => {
    const result = await walk(t, app, { limit: '3' })
    t.equal(result.pages, 3, 'no empty fourth page')
    t.same(result.events.map((e) => e.id), order)
    t.equal(result.lastCursor, null)
  })

  t.test('a cursor still works after the row it points at is deleted', async (t) => {
    const res = await page(app, { limit: '4', action: 'exit' })
    const next = res.json().next_cursor
    const removed = await app.inject({ method: 'DELETE', url: `/v1/events/${order[3]}`, headers })
    t.equal(removed.statusCode, 204)
    const rest = await page(app, { limit: '10', action: 'exit', cursor: next })
    t.equal(rest.statusCode, 200)
    t.same(rest.json().data.map((e: Event) => e.id), order.slice(4))
  })

  t.test('a cursor used with other filters or another sort', async (t) => {
    const filtered = await page(app, { limit: '2', region: 'RU' })
    const ruCursor: string = filtered.json().next_cursor
    const dateCursor: string = (await page(app, { limit: '2', sort: 'date' })).json().next_cursor
    const misuses: Array<[Record<string, string>, string]> = [
      [{ sort: 'date', cursor }, 'another sort'],
      [{ sort: '-created_at', cursor }, 'another sort key'],
      [{ region: 'RU', cursor }, 'a filter added'],
      [{ q: 'company', cursor }, 'a search added'],
      [{ cursor: ruCursor }, 'a filter removed'],
      [{ region: 'RU,BY', cursor: ruCursor }, 'a filter changed'],
      [{ region: 'RU', action: 'exit', cursor: ruCursor }, 'a second filter added'],
      [{ cursor: dateCursor }, 'the sort removed'],
      [{ sort: '-date', cursor: dateCursor }, 'the sort reversed']
    ]
    for (const [query, what] of misuses) {
      const res = await page(app, { limit: '2', ...query })
      t.equal(res.statusCode, 400, what)
      t.match(res.headers['content-type'], /^application\/problem\+json/, what)
      t.match(res.json(), { status: 400, code: 'APP_CURSOR_INVALID' }, what)
    }
    const same = await page(app, { limit: '2', region: 'RU', cursor: ruCursor })
    t.equal(same.statusCode, 200, 'the same filters still work')
    t.same(same.json().data.map((e: Event) => e.id), expectedOrder(events.filter((e) => e.region === 'RU' && e.id !== order[3]), '-date').slice(2, 4))
  })

  t.test('tampered or garbage cursors are 400, never 500', async (t) => {
    const b64 = (text: string) => Buffer.from(text).toString('base64url')
    const real = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    const withKey = (k: unknown) => b64(JSON.stringify({ ...real, k }))
    const uuid = events[0]!.id
    const garbage: Array<[string, string]> = [
      [randomBytes(48).toString('base64url'), 'random base64'],
      [randomBytes(48).toString('base64'), 'random standard base64'],
      ['not a cursor!', 'not base64'],
      [b64('{}'), "base64 of '{}'"],
      [b64('null'), "base64 of 'null'"],
      [b64('[]'), "base64 of '[]'"],
      [b64('"text"'), 'base64 of a JSON string'],
      [b64('{"v":1'), 'truncated JSON'],
      [withKey(['2022-02-30', uuid]), 'a date key 2022-02-30'],
      [withKey(['2022-13-01', uuid]), 'a date key in month 13'],
      [withKey(['yesterday', uuid]), 'a date key that is not a date'],
      [withKey(['0000-01-01', uuid]), 'a date key in year 0, which Postgres refuses'],
      [withKey(['2022-03-01', 'not-a-uuid']), 'an id that is not a uuid'],
      [withKey(['2022-03-01']), 'a key without id'],
      [withKey([20220301, uuid]), 'a numeric key'],
      [withKey(null), 'a null key'],
      [withKey(["2022-03-01'; DROP TABLE events; --", uuid]), 'SQL in the key'],
      [cursor.slice(0, -4), 'a truncated cursor'],
      [`${cursor}x`, 'a cursor with a byte appended'],
      ['x'.repeat(5000), 'a very long cursor']
    ]
    for (const [bad, what] of garbage) {
      const res = await page(app, { limit: '3', cursor: bad })
      t.equal(res.statusCode, 400, res.statusCode === 400 ? what : `${what}: ${res.body.slice(0, 200)}`)
      t.match(res.headers['content-type'], /^application\/problem\+json/, what)
    }
    const timestamped = (await page(app, { limit: '2', sort: 'created_at' })).json()
    const ts = JSON.parse(Buffer.from(timestamped.next_cursor, 'base64url').toString('utf8'))
    const badTimestamps: Array<[string, string]> = [
      ['2022-02-30T10:00:00.000000Z', 'a timestamp on 30 February'],
      ['2022-13-01T10:00:00.000000Z', 'a timestamp in month 13'],
      ['2022-03-01', 'a date where a timestamp belongs'],
      ['now', 'a word'],
      ['0000-01-01T00:00:00.000000Z', 'a timestamp in year 0, which Postgres refuses']
    ]
    for (const [key, what] of badTimestamps) {
      const res = await page(app, { limit: '2', sort: 'created_at', cursor: b64(JSON.stringify({ ...ts, k: [key, uuid] })) })
      t.equal(res.statusCode, 400, res.statusCode === 400 ? what : `${what}: ${res.body.slice(0, 200)}`)
      t.match(res.json(), { code: 'APP_CURSOR_INVALID' }, what)
    }
    const tampered = await page(app, { limit: '3', cursor: withKey(['2022-02-30', uuid]) })
    t.match(tampered.json(), { status: 400, code: 'APP_CURSOR_INVALID' })
  })
})
