import t from 'tap'
import { sleep, startCluster, startServer } from './support.js'

const CLIENTS = 64
const LOAD_MS = 4000
// Low enough that this machine's two cores, shared with Postgres and the load generator, cross it for sure.
const MAX_UTILIZATION = '0.3'
const RECOVERY_BOUND_MS = 3000

t.test('overload: a saturated event loop sheds requests with 503 and Retry-After, keeps liveness, and recovers by itself', async (t) => {
  const cluster = await startCluster(t)
  const server = await startServer(t, cluster.url, { OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: MAX_UTILIZATION, WEBHOOKS_ENABLED: 'false' })

  const statuses: Record<number, number> = {}
  let shedWithoutRetryAfter = 0
  let livenessFailures = 0
  const deadline = Date.now() + LOAD_MS
  const clients = Array.from({ length: CLIENTS }, async (_, i) => {
    while (Date.now() < deadline) {
      // One client in eight probes liveness, which must answer under pressure too.
      if (i % 8 === 0) {
        if (!(await fetch(`${server.url}/healthz`).then((res) => res.ok, () => false))) livenessFailures++
        continue
      }
      const res = await fetch(`${server.url}/v1/events?limit=50&region=RU`)
      await res.arrayBuffer()
      statuses[res.status] = (statuses[res.status] ?? 0) + 1
      const problem = res.headers.get('content-type')?.startsWith('application/problem+json')
      if (res.status === 503 && (!res.headers.get('retry-after') || !problem)) shedWithoutRetryAfter++
    }
  })
  await Promise.all(clients)

  const stoppedAt = performance.now()
  let recoveryMs = Infinity
  while (performance.now() - stoppedAt < 10_000) {
    if ((await fetch(`${server.url}/v1/events?limit=1`)).ok) {
      recoveryMs = performance.now() - stoppedAt
      break
    }
    await sleep(100)
  }

  const total = Object.values(statuses).reduce((a, b) => a + b, 0)
  t.ok((statuses[503] ?? 0) > 0, 'a saturated event loop sheds requests with 503')
  t.same(Object.keys(statuses).filter((s) => s !== '200' && s !== '503'), [], 'and answers nothing but 200 or 503')
  t.equal(shedWithoutRetryAfter, 0, 'every 503 is a problem with Retry-After')
  t.equal(livenessFailures, 0, 'liveness answered throughout')
  t.ok(recoveryMs <= RECOVERY_BOUND_MS, `requests succeed again within ${RECOVERY_BOUND_MS} ms of the load's end (${Math.round(recoveryMs)} ms)`)
  t.comment(`overload: ${total} requests from ${CLIENTS} clients in ${LOAD_MS / 1000} s, ${statuses[200] ?? 0}×200, ${statuses[503] ?? 0}×503 with Retry-After ` +
    `(event-loop utilisation limit ${MAX_UTILIZATION}), liveness failures ${livenessFailures}, 2xx again ${Math.round(recoveryMs)} ms after the load stopped`)
})
