import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { readdir, readFile, readlink } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import pg from 'pg'
import t, { type Test } from 'tap'
import { verifyWebhookSignature } from '../../clients/typescript/src/index.js'
import { keyFor, sleep, startCluster, startServer } from '../faults/support.js'

// Two API processes (src/server.ts) on one PostgreSQL cluster and one Redis, requests alternating between them:
// rate limits, idempotency keys, the change feed, webhook deliveries and key revocation behave as with one.

// Each part of the test uses keys of its own; 100 a window leaves every part room for its requests.
const KEY_LIMIT = 100
const IP_LIMIT = 20
const IDEMPOTENT_REQUESTS_PER_INSTANCE = 10
const FEED_COMPANIES = 10
const FEED_EVENTS = 30
const FEED_PATCHES = 20
const HOOK_EVENTS = 40
const RETRIED_EVENTS = 10
// Writes in flight at once, over both instances: well under both pools, so that no request waits for a connection.
const CONCURRENCY = 8
const DEADLINE_MS = 30_000

interface Reply { status: number, headers: Headers, body: any }
type Auth = Record<string, string>

/** Polls `check` until it returns a value (not undefined); fails after `timeoutMs`. */
async function until<T> (what: string, check: () => Promise<T | undefined>, timeoutMs = DEADLINE_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(100)
  }
}

/** Runs `fn` over the items, at most `limit` at a time; the results in the items' order. */
async function mapConcurrent<I, O> (items: I[], limit: number, fn: (item: I, index: number) => Promise<O>): Promise<O[]> {
  const results: O[] = new Array(items.length)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!, i)
    }
  }))
  return results
}

/**
 * Which of the processes has the TCP socket whose local port is `port` open, read from /proc (Linux); undefined
 * elsewhere. A delivery's connection is the sender's own (no agent), so this tells which instance sent it.
 */
async function processWithPort (port: number, pids: number[]): Promise<number | undefined> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`
  const table = await readFile('/proc/net/tcp', 'utf8').catch(() => '')
  // Columns: sl, local address, remote address, state, …, inode (10th); a closed socket still listed has inode 0.
  const inodes = table.split('\n').map((line) => line.trim().split(/\s+/))
    .filter((cols) => cols[1]?.endsWith(hex) && cols[9] !== undefined && cols[9] !== '0').map((cols) => `socket:[${cols[9]}]`)
  if (inodes.length === 0) return undefined
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
    const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')))
    if (links.some((link) => inodes.includes(link))) return pid
  }
  return undefined
}

/**
 * A webhook receiver on loopback that records every request and which of `pids` sent it; with `failFirst`, it
 * answers 500 to each delivery's first attempt.
 */
async function startReceiver (t: Test, pids: number[], failFirst = false) {
  const received: Array<{ id: string, body: string, signature: string, status: number, at: number, sender: number | undefined }> = []
  const seen = new Set<string>()
  const server = createServer((req, res) => {
    const at = Date.now()
    const senderPort = req.socket.remotePort!
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const sender = await processWithPort(senderPort, pids)
      const id = String(req.headers['webhook-id'])
      const status = failFirst && !seen.has(id) ? 500 : 200
      seen.add(id)
      received.push({ id, body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['webhook-signature']), status, at, sender })
      res.writeHead(status).end()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received }
}

// A real Redis; CI has one on this address. Elsewhere, without one, the test is skipped and says so.
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A client of the shared Redis, or undefined when none answers. */
async function connectRedis (): Promise<Redis | undefined> {
  const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  redis.on('error', () => {})
  return redis.connect().then(() => redis, () => { redis.disconnect(); return undefined })
}

/** How many times each value occurs more than once, in all. */
const duplicates = (values: string[]) => values.length - new Set(values).size

const redis = await connectRedis()
if (!redis && process.env.CI) t.fail(`no Redis at ${redisUrl}`)

t.test('two API processes on one database and one Redis behave as one', { skip: redis ? false : `no Redis at ${redisUrl} (set TEST_REDIS_URL)` }, async (t) => {
  // A prefix of this run's own: runs (and CI's parallel suites) never share counters; removed at the end.
  const prefix = `market-exits-scale:${randomUUID()}:`
  t.teardown(async () => {
    const keys = await redis!.keys(`${prefix}*`)
    if (keys.length > 0) await redis!.del(...keys)
    redis!.disconnect()
  })
  const cluster = await startCluster(t)
  const admin = await keyFor(cluster.url, ['admin'])
  const env = {
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    RATE_LIMIT_PER_KEY: String(KEY_LIMIT),
    RATE_LIMIT_PER_IP: String(IP_LIMIT),
    RATE_LIMIT_WINDOW_SECONDS: '60',
    WEBHOOKS_ENABLED: 'true',
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WEBHOOK_POLL_INTERVAL_MS: '500',
    WEBHOOK_RETRY_DELAY_SECONDS: '1',
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_TIMEOUT_MS: '2000'
  }
  const servers = await Promise.all([startServer(t, cluster.url, env), startServer(t, cluster.url, env)])
  const [a, b] = servers.map((s) => s.url) as [string, string]
  const instances = [a, b]
  const other = (url: string) => url === a ? b : a
  const pids = servers.map((s) => s.child.pid!)
  /** How many of the requests each instance sent, as `A n, B m` (unknown without /proc). */
  const senders = (received: Array<{ sender: number | undefined }>) =>
    ['A', 'B'].map((name, i) => `${name} ${received.filter((r) => r.sender === pids[i]).length}`).join(', ') +
    (received.some((r) => r.sender === undefined) ? `, unknown ${received.filter((r) => r.sender === undefined).length}` : '')
  const db = new pg.Client({ connectionString: cluster.url })
  await db.connect()
  t.teardown(() => db.end())

  const call = async (base: string, method: string, path: string, headers: Auth = {}, body?: unknown, contentType = 'application/json'): Promise<Reply> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': contentType }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    const text = await res.text()
    return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) }
  }
  const created = async (base: string, path: string, headers: Auth, body: unknown) => {
    const res = await call(base, 'POST', path, headers, body)
    if (res.status !== 201) throw new Error(`POST ${path} on ${base} answered ${res.status}: ${JSON.stringify(res.body)}`)
    return res.body
  }
  // Each part gets keys of its own, so that its requests stay within the per-key limit of the window.
  let keysMade = 0
  const newKey = async (scopes: string[]): Promise<{ id: string, auth: Auth }> => {
    const { id, key } = await created(instances[keysMade % 2]!, '/v1/api-keys', admin, { name: `scale-${++keysMade}`, scopes })
    return { id, auth: { authorization: `Bearer ${key}` } }
  }
  const eventBody = (companyId: string, i: number) => ({
    company_id: companyId, region: 'RU', service: `Line ${i}`, action: 'exit', date: '2022-03-08', sources: [{ url: `https://example.com/${randomUUID()}` }]
  })
  const figures: string[] = []

  await t.test('rate limits are counted once for both instances', async (t) => {
    const { id, auth } = await newKey(['read'])
    const keyed = await mapConcurrent(Array.from({ length: KEY_LIMIT }, (_, i) => instances[i % 2]!), 1,
      (base) => call(base, 'GET', '/v1/events?limit=1', auth))
    t.same(keyed.filter((r) => r.status !== 200).map((r) => r.status), [], `${KEY_LIMIT} requests with one key, alternating, all succeed`)
    t.same(keyed.map((r) => Number(r.headers.get('ratelimit-remaining'))), Array.from({ length: KEY_LIMIT }, (_, i) => KEY_LIMIT - 1 - i),
      'each one spends a point of the same budget, whichever instance answers')
    const keyRefused = [await call(a, 'GET', '/v1/events?limit=1', auth), await call(b, 'GET', '/v1/events?limit=1', auth)]
    t.same(keyRefused.map((r) => r.status), [429, 429], 'the next one is 429 on both instances')
    t.ok(keyRefused.every((r) => Number(r.headers.get('retry-after')) >= 1 && r.body.code === 'APP_RATE_LIMITED'), 'with Retry-After')

    const anonymous = await mapConcurrent(Array.from({ length: IP_LIMIT }, (_, i) => instances[i % 2]!), 1,
      (base) => call(base, 'GET', '/v1/regions'))
    t.same(anonymous.filter((r) => r.status !== 200).map((r) => r.status), [], `${IP_LIMIT} anonymous reads from one IP, alternating, all succeed`)
    t.same(anonymous.map((r) => Number(r.headers.get('ratelimit-remaining'))), Array.from({ length: IP_LIMIT }, (_, i) => IP_LIMIT - 1 - i))
    const ipRefused = [await call(b, 'GET', '/v1/regions'), await call(a, 'GET', '/v1/regions')]
    t.same(ipRefused.map((r) => r.status), [429, 429], 'the next anonymous read is 429 on both instances')
    t.ok(ipRefused.every((r) => Number(r.headers.get('retry-after')) >= 1), 'with Retry-After')
    const counters = await redis!.mget(`${prefix}rate-limit:key:${id}`, `${prefix}rate-limit:ip:127.0.0.1`)
    t.same(counters, [String(KEY_LIMIT + 2), String(IP_LIMIT + 2)], 'both counters are in Redis, each request counted once')
    figures.push(`rate limits shared (${KEY_LIMIT} per key and ${IP_LIMIT} per IP ok over both, then 429 on both)`)
  })

  await t.test('one Idempotency-Key sent to both instances at once writes once', async (t) => {
    const writer = await newKey(['write'])
    const company = await created(a, '/v1/companies', writer.auth, { name: 'Idempotent Twice Ltd' })
    const headers = { ...writer.auth, 'idempotency-key': randomUUID() }
    const body = eventBody(company.id, 0)
    const total = 2 * IDEMPOTENT_REQUESTS_PER_INSTANCE
    const answers = await Promise.all(Array.from({ length: total }, async (_, i) => ({
      instance: instances[i % 2]!,
      ...await call(instances[i % 2]!, 'POST', '/v1/events', headers, body)
    })))
    t.same(answers.filter((r) => r.status !== 201).map((r) => `${r.status} ${JSON.stringify(r.body)}`), [], 'every request is answered 201')
    const ids = new Set(answers.map((r) => r.body.id))
    t.equal(ids.size, 1, 'all with the same event id')
    const replayed = answers.filter((r) => r.headers.get('idempotent-replayed') === 'true')
    t.equal(replayed.length, total - 1, 'all but one are replays (Idempotent-Replayed: true)')
    t.same(new Set(replayed.map((r) => r.instance)), new Set(instances), 'replayed by both instances')
    t.equal(new Set(answers.map((r) => r.headers.get('location'))).size, 1, 'with the same Location')
    const { rows: [row] } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE company_id = $1', [company.id])
    t.equal(row!.n, 1, 'one event is stored')
    figures.push(`1 event for ${total} concurrent same-key requests`)
  })

  await t.test('the change feed reads the same, once each, from either instance', async (t) => {
    const writer = await newKey(['write'])
    const [readerLive, readerA, readerB, readerBoth] = await Promise.all([newKey(['read']), newKey(['read']), newKey(['read']), newKey(['read'])])
    // The changes the writes below made, filled in once they are all acknowledged.
    const expected = new Set<string>()
    let written = false
    interface FeedChange { id: string, type: string, resource_id: string, version: number }
    /**
     * Follows next_cursor from the start until a page is empty and every expected change came; `pick` chooses
     * each page's instance.
     */
    const walk = async (auth: Auth, pick: (page: number) => string): Promise<FeedChange[]> => {
      const seen: FeedChange[] = []
      let cursor: string | undefined
      const deadline = Date.now() + DEADLINE_MS
      for (let page = 0; ; page++) {
        const res = await call(pick(page), 'GET', `/v1/changes?limit=7${cursor === undefined ? '' : `&after=${encodeURIComponent(cursor)}`}`, auth)
        if (res.status !== 200) throw new Error(`the change feed answered ${res.status}: ${JSON.stringify(res.body)}`)
        seen.push(...res.body.data)
        cursor = res.body.next_cursor
        if (res.body.data.length > 0) continue
        const shown = new Set(seen.map((c) => `${c.type} ${c.resource_id} ${c.version}`))
        if (written && [...expected].every((e) => shown.has(e))) break
        // A change shows once every older transaction has ended: poll the same cursor again.
        if (Date.now() > deadline) throw new Error('timed out waiting for the change feed to show every write')
        await sleep(250)
      }
      return seen
    }
    // A poller that follows the feed while both instances write, alternating between them.
    const live = walk(readerLive.auth, (page) => instances[page % 2]!)

    // Writes spread over both instances, several at a time: companies, events of them, then updates of some events.
    const companies = await mapConcurrent(Array.from({ length: FEED_COMPANIES }, (_, i) => i), CONCURRENCY,
      (i) => created(instances[i % 2]!, '/v1/companies', writer.auth, { name: `Feed Company ${i}` }))
    const events = await mapConcurrent(Array.from({ length: FEED_EVENTS }, (_, i) => i), CONCURRENCY, async (i) => ({
      via: instances[i % 2]!,
      event: await created(instances[i % 2]!, '/v1/events', writer.auth, eventBody(companies[i % FEED_COMPANIES]!.id, i))
    }))
    const patched = await mapConcurrent(events.slice(0, FEED_PATCHES), CONCURRENCY, async ({ via, event }) => {
      // Each update goes to the instance that did not create the event.
      const res = await call(other(via), 'PATCH', `/v1/events/${event.id}`, { ...writer.auth, 'if-match': '"1"' },
        { summary: 'updated on the other instance' }, 'application/merge-patch+json')
      if (res.status !== 200) throw new Error(`PATCH answered ${res.status}: ${JSON.stringify(res.body)}`)
      return res.body
    })
    for (const c of companies) expected.add(`company.created ${c.id} 1`)
    for (const { event } of events) expected.add(`event.created ${event.id} 1`)
    for (const e of patched) expected.add(`event.updated ${e.id} 2`)
    written = true
    t.equal(expected.size, FEED_COMPANIES + FEED_EVENTS + FEED_PATCHES)

    const fromA = await walk(readerA.auth, () => a)
    const fromB = await walk(readerB.auth, () => b)
    const alternating = await walk(readerBoth.auth, (page) => instances[page % 2]!)
    const during = await live

    t.equal(duplicates(fromA.map((c) => c.id)), 0, 'no change twice')
    const ours = fromA.filter((c) => expected.has(`${c.type} ${c.resource_id} ${c.version}`))
    t.equal(ours.length, expected.size, 'every write of both instances is in it, once')
    t.same(fromB.map((c) => c.id), fromA.map((c) => c.id), 'instance B serves the same changes in the same order')
    t.same(alternating.map((c) => c.id), fromA.map((c) => c.id), 'and so does a walk that alternates, its cursor passed from one instance to the other')
    t.same(during.map((c) => c.id), fromA.map((c) => c.id), 'and the poller that followed the feed during the writes, alternating, missed nothing')
    const versions = new Map<string, number[]>()
    for (const c of fromA) versions.set(c.resource_id, [...(versions.get(c.resource_id) ?? []), c.version])
    t.ok([...versions.values()].every((v) => v.every((n, i) => i === 0 || n > v[i - 1]!)), 'each resource\'s changes in version order')
    figures.push(`change feed ${fromA.length} changes (${ours.length} written over both) identical from A, B, alternating and polled during the writes, 0 duplicates`)
  })

  /**
   * Waits until the subscription has `count` deliveries, all succeeded, and no delivery job is left in pg-boss's
   * queue (its states sort created < retry < active < completed …): then nothing more will be sent, and counts are final.
   */
  const settled = (subscriptionId: string, count: number) => until(`${count} deliveries to settle`, async () => {
    const { rows: [row] } = await db.query<{ total: number, succeeded: number, open: number }>(`SELECT
        (SELECT count(*)::int FROM webhook_deliveries WHERE subscription_id = $1) AS total,
        (SELECT count(*)::int FROM webhook_deliveries WHERE subscription_id = $1 AND status = 'succeeded') AS succeeded,
        (SELECT count(*)::int FROM pgboss.job WHERE name = 'webhook-delivery' AND state < 'completed') AS open`, [subscriptionId])
    return row!.total === count && row!.succeeded === count && row!.open === 0 ? row : undefined
  }, 45_000)

  await t.test('each webhook delivery is sent once per attempt, not once per instance', async (t) => {
    const writer = await newKey(['write'])
    const receiver = await startReceiver(t, pids)
    const company = await created(a, '/v1/companies', writer.auth, { name: 'Hooked Twice Ltd' })
    const hook = await created(b, '/v1/webhooks', admin, { url: receiver.url, filters: { company_id: [company.id] } })
    const events = await mapConcurrent(Array.from({ length: HOOK_EVENTS }, (_, i) => i), CONCURRENCY,
      (i) => created(instances[i % 2]!, '/v1/events', writer.auth, eventBody(company.id, i)))
    await settled(hook.id, HOOK_EVENTS)

    const changes = receiver.received.map((r) => JSON.parse(r.body) as { id: string, type: string, resource_id: string })
    const dup = duplicates(receiver.received.map((r) => r.id))
    const delivered = new Set(changes.map((c) => c.resource_id))
    const missing = events.filter((e) => !delivered.has(e.id)).length
    t.equal(receiver.received.length, HOOK_EVENTS, `${HOOK_EVENTS} requests received`)
    t.equal(dup, 0, 'no delivery id twice')
    t.equal(duplicates(changes.map((c) => c.id)), 0, 'no change twice')
    t.equal(missing, 0, 'every event delivered')
    t.ok(changes.every((c) => c.type === 'event.created'), 'only the events\' changes (the subscription came after the company)')
    t.ok(receiver.received.every((r) => verifyWebhookSignature({ payload: r.body, header: r.signature, secret: hook.secret })), 'every delivery is signed')
    const log = await call(a, 'GET', `/v1/webhooks/${hook.id}/deliveries?limit=100`, admin)
    t.same(log.body.data.map((d: { attempts: number }) => d.attempts), Array(HOOK_EVENTS).fill(1), 'the log shows one attempt each')
    figures.push(`${HOOK_EVENTS} webhook deliveries (sent by ${senders(receiver.received)}): ${dup} duplicates, ${missing} missing`)
  })

  await t.test('a failed attempt is retried once, by one instance', async (t) => {
    const writer = await newKey(['write'])
    const receiver = await startReceiver(t, pids, true)
    const company = await created(b, '/v1/companies', writer.auth, { name: 'Retried Twice Ltd' })
    const hook = await created(a, '/v1/webhooks', admin, { url: receiver.url, filters: { company_id: [company.id] } })
    await mapConcurrent(Array.from({ length: RETRIED_EVENTS }, (_, i) => i), CONCURRENCY,
      (i) => created(instances[i % 2]!, '/v1/events', writer.auth, eventBody(company.id, i)))
    await settled(hook.id, RETRIED_EVENTS)

    const byDelivery = new Map<string, typeof receiver.received>()
    for (const r of receiver.received) byDelivery.set(r.id, [...(byDelivery.get(r.id) ?? []), r])
    t.equal(byDelivery.size, RETRIED_EVENTS, 'one delivery per event')
    t.same([...byDelivery.values()].map((attempts) => attempts.map((r) => r.status)), Array(RETRIED_EVENTS).fill([500, 200]),
      'each: the failed attempt, then exactly one retry')
    const gaps = [...byDelivery.values()].map(([first, retry]) => retry!.at - first!.at)
    t.ok(gaps.every((g) => g >= 900), `each retry after the backoff (shortest ${Math.min(...gaps)} ms)`)
    const log = await call(b, 'GET', `/v1/webhooks/${hook.id}/deliveries?limit=100`, admin)
    t.same(log.body.data.map((d: { attempts: number, status: string }) => `${d.status} ${d.attempts}`), Array(RETRIED_EVENTS).fill('succeeded 2'))
    figures.push(`retries 1 per failed attempt (${receiver.received.length} requests for ${RETRIED_EVENTS} deliveries, sent by ${senders(receiver.received)})`)
  })

  await t.test('a key revoked through one instance is refused at once by the other', async (t) => {
    for (const [revoker, checker] of [[a, b], [b, a]] as const) {
      const key = await newKey(['read', 'write'])
      t.equal((await call(checker, 'GET', '/v1/events?limit=1', key.auth)).status, 200, 'the key works on the other instance')
      t.equal((await call(revoker, 'DELETE', `/v1/api-keys/${key.id}`, admin)).status, 204, 'revoked')
      const next = await call(checker, 'GET', '/v1/events?limit=1', key.auth)
      t.equal(next.status, 401, 'the very next request on the other instance is refused')
      t.equal(next.body.code, 'APP_AUTH_UNAUTHORIZED')
      t.equal((await call(revoker, 'GET', '/v1/events?limit=1', key.auth)).status, 401, 'and on the one that revoked it')
    }
    figures.push('revoked key refused on the other instance')
  })

  const errors = servers.flatMap((s) => s.output().split('\n').filter((line) => /"level":(50|60)/.test(line)))
  t.same(errors, [], 'neither instance logged an error')
  t.comment(`two instances: ${figures.join(', ')}`)
})
