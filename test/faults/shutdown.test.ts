import { connect } from 'node:net'
import pg from 'pg'
import t from 'tap'
import { keyFor, sleep, startCluster, startServer } from './support.js'
import { startProxy } from './tcp-proxy.js'

const IN_FLIGHT = 20
// Every fourth request writes: writes that touch the change feed commit one at a time, and more of them would
// queue into the statement timeout on the slowed network.
const WRITE_EVERY = 4
const EXIT_BOUND_MS = 10_000

/** Whether a new TCP connection to the port is refused. */
const refused = (port: number) => new Promise<boolean>((resolve) => {
  const socket = connect(port, '127.0.0.1')
  socket.once('connect', () => { socket.destroy(); resolve(false) })
  socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
})

/** A keep-alive connection that made one request and now sits idle, as a browser's or a load balancer's would. */
const idleKeepAlive = (port: number) => new Promise<void>((resolve) => {
  const socket = connect(port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n'))
  socket.once('data', () => resolve())
  socket.on('error', () => {})
})

t.test('SIGTERM under load: requests in flight finish with their real status, new connections are refused, exit 0 within 10 s', async (t) => {
  const cluster = await startCluster(t)
  const auth = await keyFor(cluster.url)
  // A slow network to the database keeps the requests in flight when the signal comes. Keep-alive is long, as
  // behind a load balancer, so that a connection left open would hold the process past the bound.
  const proxy = await startProxy(t, cluster.port)
  const server = await startServer(t, `postgres://postgres@127.0.0.1:${proxy.port}/postgres`, { DB_POOL_MAX: String(IN_FLIGHT), WEBHOOKS_ENABLED: 'true', KEEP_ALIVE_TIMEOUT_MS: '30000' })
  const port = Number(new URL(server.url).port)
  const headers = { ...auth, 'content-type': 'application/json' }
  const company = await fetch(`${server.url}/v1/companies`, { method: 'POST', headers, body: JSON.stringify({ name: 'Shutdown Test Ltd' }) })
    .then((res) => res.json() as Promise<{ id: string }>)
  await idleKeepAlive(port)
  proxy.setMode('delay', 25)

  const requests = Array.from({ length: IN_FLIGHT }, async (_, i) => {
    const res = i % WRITE_EVERY !== 0
      ? await fetch(`${server.url}/v1/events?limit=5`)
      : await fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ company_id: company.id, region: 'RU', service: `Line ${i}`, action: 'exit', date: '2022-03-08', sources: [{ url: `https://example.com/${i}` }] })
      })
    const body = await res.json() as { id?: string }
    return { write: i % WRITE_EVERY === 0, status: res.status, id: body.id }
  })
  await sleep(300)
  const signalledAt = performance.now()
  server.child.kill('SIGTERM')
  await sleep(100)
  const refusedAfterSignal = await refused(port)
  const answered = await Promise.all(requests)
  const exit = await server.exited
  const exitMs = performance.now() - signalledAt

  const client = new pg.Client({ connectionString: cluster.url })
  await client.connect()
  const { rows } = await client.query<{ id: string }>('SELECT id FROM events WHERE company_id = $1', [company.id])
  await client.end()
  const stored = new Set(rows.map((r) => r.id))
  const statuses = answered.map((a) => a.status)
  const writes = answered.filter((a) => a.write)

  t.same(answered.filter((a) => a.status !== (a.write ? 201 : 200)), [], 'every request in flight got its real answer (200 or 201)')
  t.ok(writes.every((w) => w.id !== undefined && stored.has(w.id)), 'and every acknowledged write is stored')
  t.ok(refusedAfterSignal, 'a new connection after the signal is refused')
  t.same(exit, { code: 0, signal: null }, 'the process exits with 0')
  t.ok(exitMs < EXIT_BOUND_MS, `within ${EXIT_BOUND_MS} ms (${Math.round(exitMs)} ms), although an idle keep-alive connection was open`)
  t.comment(`SIGTERM: ${answered.length} requests in flight, ${statuses.filter((s) => s < 300).length} answered 2xx, ` +
    `${writes.filter((w) => w.id && stored.has(w.id)).length}/${writes.length} writes stored, new connection refused: ${refusedAfterSignal ? 'yes' : 'no'}, ` +
    `exit code ${exit.code} after ${(exitMs / 1000).toFixed(2)} s`)
})
