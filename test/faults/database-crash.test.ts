import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { keyFor, sleep, startCluster, startServer } from './support.js'

const WRITERS = 4
const DOWN_MS = 3000
const RECOVERY_BOUND_MS = 2000

t.test('a database crash under write load loses and doubles no acknowledged write, and answers only 503s while down', async (t) => {
  const cluster = await startCluster(t)
  const auth = await keyFor(cluster.url)
  // Webhook delivery on, as in production: its job queue loses the database too and must not take the process down.
  const server = await startServer(t, cluster.url, { DB_CONNECT_TIMEOUT_MS: '1000', WEBHOOKS_ENABLED: 'true' })
  const headers = { ...auth, 'content-type': 'application/json' }
  const company = await fetch(`${server.url}/v1/companies`, { method: 'POST', headers, body: JSON.stringify({ name: 'Crash Test Ltd' }) })
    .then((res) => res.json() as Promise<{ id: string }>)

  // Idempotency key → the id the API acknowledged for it.
  const ledger = new Map<string, string>()
  const outcomes = { outage: 0, outageWithoutRetryAfter: 0, status500: 0, unexpected: [] as string[], connectionErrors: 0 }
  // Read by the writers, set by the timeline below.
  const clock: { databaseBackAt?: number, recoveryMs?: number, writing: boolean } = { writing: true }

  /** One write, retried with the same key until the API acknowledges it: the client a partner would write. */
  async function write (key: string) {
    const body = JSON.stringify({ company_id: company.id, region: 'RU', service: 'Retail', action: 'exit', date: '2022-03-08', summary: key, sources: [{ url: `https://example.com/${key}` }] })
    for (;;) {
      const res = await fetch(`${server.url}/v1/events`, { method: 'POST', headers: { ...headers, 'idempotency-key': key }, body }).catch(() => undefined)
      if (!res) {
        outcomes.connectionErrors++
        await sleep(50)
        continue
      }
      const text = await res.text()
      if (res.status === 201) {
        ledger.set(key, (JSON.parse(text) as { id: string }).id)
        if (clock.databaseBackAt !== undefined) clock.recoveryMs ??= Date.now() - clock.databaseBackAt
        return
      }
      if (res.status === 503) {
        outcomes.outage++
        const problem = res.headers.get('content-type')?.startsWith('application/problem+json')
        if (!res.headers.get('retry-after') || !problem) outcomes.outageWithoutRetryAfter++
        await sleep(100)
        continue
      }
      if (res.status === 500) outcomes.status500++
      else outcomes.unexpected.push(`${res.status} ${text}`)
      return
    }
  }

  const writers = Array.from({ length: WRITERS }, async () => {
    while (clock.writing) await write(randomUUID())
  })
  await sleep(1500)
  await cluster.crash()
  const crashedAt = Date.now()
  await sleep(DOWN_MS)
  await cluster.start()
  clock.databaseBackAt = Date.now()
  const downMs = clock.databaseBackAt - crashedAt
  await sleep(2500)
  clock.writing = false
  await Promise.all(writers)

  const client = new pg.Client({ connectionString: cluster.url })
  await client.connect()
  const { rows } = await client.query<{ id: string, summary: string }>('SELECT id, summary FROM events WHERE company_id = $1', [company.id])
  await client.end()
  const { recoveryMs } = clock
  const stored = new Map<string, string[]>()
  for (const row of rows) stored.set(row.summary, [...stored.get(row.summary) ?? [], row.id])
  const lost = [...ledger].filter(([key, id]) => !stored.get(key)?.includes(id)).length
  const duplicated = [...stored.values()].filter((ids) => ids.length > 1).length
  const unacknowledged = [...stored.keys()].filter((key) => !ledger.has(key)).length
  const amcheck = await cluster.amcheck()

  t.comment(`database crash: ${ledger.size} writes acknowledged, ${lost} lost, ${duplicated} duplicated, ${unacknowledged} stored unacknowledged, ` +
    `${outcomes.status500} responses 500, ${outcomes.outage} outage responses (${outcomes.outageWithoutRetryAfter} not a 503 problem with Retry-After), ` +
    `database down ${(downMs / 1000).toFixed(1)} s, first 2xx ${recoveryMs === undefined ? 'never' : `${(recoveryMs / 1000).toFixed(2)} s`} after its return, ` +
    `same process: ${server.child.exitCode === null ? 'yes' : 'no'}, pg_amcheck: ${amcheck.ok ? 'no corruption' : 'FAILED'}`)
  t.ok(ledger.size > 0, 'writes were acknowledged')
  t.equal(lost, 0, 'no acknowledged write is lost')
  t.equal(duplicated, 0, 'no write is stored twice')
  t.equal(unacknowledged, 0, 'every stored write was acknowledged')
  t.equal(outcomes.status500, 0, 'no response is a 500')
  t.same(outcomes.unexpected, [], 'no other error')
  t.equal(outcomes.connectionErrors, 0, 'the API never dropped a connection')
  t.ok(outcomes.outage > 0, 'writes met the outage')
  t.equal(outcomes.outageWithoutRetryAfter, 0, 'every outage error is a 503 problem with Retry-After')
  t.ok(recoveryMs !== undefined && recoveryMs <= RECOVERY_BOUND_MS, `2xx within ${RECOVERY_BOUND_MS} ms of the database's return (${recoveryMs} ms)`)
  t.equal(server.child.exitCode, null, 'the same API process is still serving')
  t.ok(amcheck.ok, `pg_amcheck reports no corruption\n${amcheck.output}`)
})
