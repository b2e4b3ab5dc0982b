import { connect, type Socket } from 'node:net'
import t from 'tap'
import { keyFor, percentile, sleep, startCluster, startServer } from './support.js'

// Node ends slow headers (it sweeps for them once a second: src/app.ts); the handler timeout, which runs from
// routing on, ends slow bodies. Each gets a 408 and its connection closed.
const REQUEST_TIMEOUT_MS = 1000
const HANDLER_TIMEOUT_MS = 2000
const CLOSE_BOUND_MS = Math.max(REQUEST_TIMEOUT_MS + 1000, HANDLER_TIMEOUT_MS) + 500
const SOCKETS_OF_EACH_KIND = 120
const LIVENESS_P99_MS = 100

interface Slow { kind: string, openedAt: number, closedAt?: number, answer: string }

/** A client that opens a connection and then sends `head` and `drip` one byte every 200 ms, never finishing. */
function slowClient (port: number, kind: string, head: string, drip: string): Promise<Slow> {
  return new Promise((resolve) => {
    const slow: Slow = { kind, openedAt: performance.now(), answer: '' }
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(head)
      let i = 0
      const timer = setInterval(() => { socket.write(drip[i++ % drip.length]!) }, 200)
      socket.once('close', () => clearInterval(timer))
    })
    socket.on('data', (chunk: Buffer) => { slow.answer += chunk.toString() })
    socket.on('error', () => {})
    socket.once('close', () => {
      slow.closedAt = performance.now()
      resolve(slow)
    })
  })
}

t.test('slow clients: hundreds of sockets that send slow headers or slow bodies are closed within the request timeout, while liveness stays fast', async (t) => {
  const cluster = await startCluster(t)
  const auth = await keyFor(cluster.url)
  const server = await startServer(t, cluster.url, { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), HANDLER_TIMEOUT_MS: String(HANDLER_TIMEOUT_MS), WEBHOOKS_ENABLED: 'false' })
  const port = Number(new URL(server.url).port)

  const liveness: number[] = []
  const probing = new AbortController()
  const prober = (async () => {
    while (!probing.signal.aborted) {
      const started = performance.now()
      await fetch(`${server.url}/healthz`).then((res) => res.arrayBuffer())
      liveness.push(performance.now() - started)
      // Some 300 probes over the slow clients' life: with 75, the "p99" was their slowest one.
      await sleep(5)
    }
  })()

  const clients = [
    ...Array.from({ length: SOCKETS_OF_EACH_KIND }, () => slowClient(port, 'slow headers', 'GET /v1/events HTTP/1.1\r\nHost: localhost\r\n', 'X-Slow: aaaaaaaa\r\n')),
    ...Array.from({ length: SOCKETS_OF_EACH_KIND }, () => slowClient(port, 'slow body',
      `POST /v1/companies HTTP/1.1\r\nHost: localhost\r\nAuthorization: ${auth.authorization}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`, '{"name": "x')),
    // Refused before its body is read: answered at once, and the connection closed rather than left to drain the body.
    ...Array.from({ length: SOCKETS_OF_EACH_KIND / 3 }, () => slowClient(port, 'refused slow body',
      'POST /v1/companies HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n', '{"name": "x'))
  ]
  const closed = await Promise.race([Promise.all(clients), sleep(CLOSE_BOUND_MS * 4).then(() => undefined)])
  probing.abort()
  await prober

  t.ok(closed, `every slow socket was closed (${clients.length})`)
  const heldMs = (closed ?? []).map((c) => c.closedAt! - c.openedAt)
  const longest = Math.max(...heldMs)
  const refusedHeldMs = (closed ?? []).filter((c) => c.kind === 'refused slow body').map((c) => c.closedAt! - c.openedAt)
  const livenessP99 = percentile(liveness, 99)
  const statusLines = new Set((closed ?? []).map((c) => `${c.kind}: ${c.answer.split('\r\n')[0]}`))
  t.same([...statusLines].sort(), ['refused slow body: HTTP/1.1 401 Unauthorized', 'slow body: HTTP/1.1 408 Request Timeout', 'slow headers: HTTP/1.1 408 Request Timeout'], 'each was answered 408, or 401 without a key')
  t.ok(longest <= CLOSE_BOUND_MS, `within ${CLOSE_BOUND_MS} ms (longest held ${Math.round(longest)} ms)`)
  t.ok(Math.max(...refusedHeldMs) < REQUEST_TIMEOUT_MS, `a refused slow body is closed at once (at most ${Math.round(Math.max(...refusedHeldMs))} ms)`)
  t.ok(livenessP99 < LIVENESS_P99_MS, `liveness p99 under ${LIVENESS_P99_MS} ms (${livenessP99.toFixed(1)} ms)`)
  const companies = await fetch(`${server.url}/v1/companies?limit=5`).then((res) => res.json() as Promise<{ data: unknown[] }>)
  t.same(companies.data, [], 'no slow body was taken for a request')
  t.comment(`slow clients: ${SOCKETS_OF_EACH_KIND} slow-header, ${SOCKETS_OF_EACH_KIND} slow-body and ${SOCKETS_OF_EACH_KIND / 3} refused slow-body sockets closed after ` +
    `${Math.round(percentile(heldMs, 50))} ms median, ${Math.round(longest)} ms at most (request timeout ${REQUEST_TIMEOUT_MS} ms, handler timeout ${HANDLER_TIMEOUT_MS} ms), each answered 408 (401 without a key, closed after ${Math.round(Math.max(...refusedHeldMs))} ms at most); ` +
    `/healthz ${liveness.length} probes, p99 ${livenessP99.toFixed(1)} ms, slowest ${Math.max(...liveness).toFixed(1)} ms`)
})
