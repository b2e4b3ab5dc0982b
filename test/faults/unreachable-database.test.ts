import t from 'tap'
import { keyFor, percentile, sleep, startCluster, startServer } from './support.js'
import { startProxy } from './tcp-proxy.js'

const SETTINGS = { DB_POOL_MAX: '2', DB_CONNECT_TIMEOUT_MS: '500', DB_STATEMENT_TIMEOUT_MS: '1000', HANDLER_TIMEOUT_MS: '3000' }
// No request may outlive the handler timeout, plus the time to write its answer on a busy machine.
const BOUND_MS = 3000 + 500
const LIVENESS_P99_MS = 100

interface Burst { statuses: Record<number, number>, maxMs: number, unavailableWithoutRetryAfter: number }

t.test('pool exhaustion and a black-holed or resetting database: bounded waits, fast liveness, truthful readiness', async (t) => {
  const cluster = await startCluster(t)
  const auth = await keyFor(cluster.url)
  const proxy = await startProxy(t, cluster.port)
  const server = await startServer(t, `postgres://postgres@127.0.0.1:${proxy.port}/postgres`, { ...SETTINGS, WEBHOOKS_ENABLED: 'false' })
  const company = await fetch(`${server.url}/v1/companies`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Proxy Test Ltd' }) })
    .then((res) => res.json() as Promise<{ id: string }>)

  // Liveness is probed all along, as an orchestrator would.
  const liveness: number[] = []
  let livenessFailures = 0
  const probing = new AbortController()
  const prober = (async () => {
    while (!probing.signal.aborted) {
      const started = performance.now()
      const ok = await fetch(`${server.url}/healthz`).then((res) => res.ok, () => false)
      liveness.push(performance.now() - started)
      if (!ok) livenessFailures++
      await sleep(25)
    }
  })()

  /** `count` concurrent reads that need the database (one with a key, which is looked up too). */
  async function burst (count: number): Promise<Burst> {
    const result: Burst = { statuses: {}, maxMs: 0, unavailableWithoutRetryAfter: 0 }
    await Promise.all(Array.from({ length: count }, async (_, i) => {
      const started = performance.now()
      const res = await fetch(i % 2 === 0 ? `${server.url}/v1/events?limit=5` : `${server.url}/v1/companies/${company.id}`, { headers: i % 4 === 1 ? auth : {} })
      await res.arrayBuffer()
      result.maxMs = Math.max(result.maxMs, performance.now() - started)
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1
      if (res.status === 503 && !res.headers.get('retry-after')) result.unavailableWithoutRetryAfter++
    }))
    return result
  }
  const readiness = async () => {
    const started = performance.now()
    const res = await fetch(`${server.url}/readyz`)
    return { status: res.status, body: await res.json() as { checks: { database: string } }, ms: performance.now() - started }
  }
  /** Milliseconds until a read succeeds again. */
  async function recovery () {
    const started = performance.now()
    while (performance.now() - started < 10_000) {
      if ((await fetch(`${server.url}/v1/events?limit=1`)).ok) return performance.now() - started
      await sleep(50)
    }
    return Infinity
  }
  const describe = (b: Burst) => `${Object.entries(b.statuses).map(([s, n]) => `${n}×${s}`).join(' ')}, slowest ${Math.round(b.maxMs)} ms`

  const healthy = await burst(20)
  t.same(healthy.statuses, { 200: 20 }, 'through the proxy, every read succeeds')

  // Each round trip 800 ms late: the pool's two connections stay busy and the other requests wait for one.
  proxy.setMode('delay', 400)
  const exhausted = await burst(30)
  proxy.setMode('pass')
  t.ok((exhausted.statuses[503] ?? 0) > 0, `an exhausted pool answers 503 (${describe(exhausted)})`)
  t.same(Object.keys(exhausted.statuses).filter((s) => s !== '200' && s !== '503'), [], 'and nothing but 200 or 503')
  const afterExhaustion = await recovery()

  proxy.setMode('blackhole')
  const blackholedReadiness = await readiness()
  const blackholed = await burst(20)
  t.equal(blackholedReadiness.status, 503, 'readiness says not ready while the database is black-holed')
  t.equal(blackholedReadiness.body.checks.database, 'unreachable', 'and names the database')
  t.ok(blackholedReadiness.ms < 1500, `within its own timeout (${Math.round(blackholedReadiness.ms)} ms)`)
  t.same(blackholed.statuses, { 503: 20 }, `a black-holed database makes every read a 503 (${describe(blackholed)})`)
  proxy.setMode('pass')
  const afterBlackhole = await recovery()
  const healedReadiness = await readiness()
  t.equal(healedReadiness.status, 200, 'readiness says ready once the database is back')
  const healed = await burst(20)
  t.same(healed.statuses, { 200: 20 }, 'and every read succeeds on connections that lived through the black hole')

  proxy.setMode('reset')
  const reset = await burst(20)
  proxy.setMode('pass')
  t.same(reset.statuses, { 503: 20 }, `a database that resets every connection makes every read a 503 (${describe(reset)})`)
  const afterReset = await recovery()

  probing.abort()
  await prober
  const bursts = [exhausted, blackholed, reset]
  const slowest = Math.max(...bursts.map((b) => b.maxMs))
  t.ok(slowest <= BOUND_MS, `no request waited longer than ${BOUND_MS} ms (slowest ${Math.round(slowest)} ms)`)
  t.equal(bursts.reduce((n, b) => n + b.unavailableWithoutRetryAfter, 0), 0, 'every 503 has Retry-After')
  const livenessP99 = percentile(liveness, 99)
  t.equal(livenessFailures, 0, 'liveness never failed')
  t.ok(livenessP99 < LIVENESS_P99_MS, `liveness p99 under ${LIVENESS_P99_MS} ms (${livenessP99.toFixed(1)} ms)`)
  t.equal(server.child.exitCode, null, 'the API process is still serving')
  t.comment(`unreachable database: pool exhaustion ${describe(exhausted)}; black hole ${describe(blackholed)}, readiness not ready in ${Math.round(blackholedReadiness.ms)} ms; ` +
    `reset ${describe(reset)}; 2xx again ${Math.round(afterExhaustion)}/${Math.round(afterBlackhole)}/${Math.round(afterReset)} ms after each fault; ` +
    `/healthz ${liveness.length} probes, p99 ${livenessP99.toFixed(1)} ms, ${livenessFailures} failed`)
})
