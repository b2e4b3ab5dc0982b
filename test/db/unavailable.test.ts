import net from 'node:net'
import { sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { buildApp, type App } from '../../src/app.js'
import { createDb } from '../../src/db/client.js'
import { isDatabaseUnavailable } from '../../src/db/errors.js'
import { serverUrl, freshDatabase } from '../database.js'
import { authHeader, testConfig } from '../helper.js'

const listen = (server: net.Server) => new Promise<number>((resolve) => {
  server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port))
})
const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** A port that nothing listens on. */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  const port = await listen(server)
  await closeServer(server)
  return port
}

/** An app over a database URL that cannot serve, with a short connect timeout. */
async function appOver (t: Test, databaseUrl: string): Promise<App> {
  const database = await createDb({ databaseUrl, dataDir: 'memory://', connectTimeoutMs: 500 })
  const app = await buildApp(testConfig(), { database, logger: false })
  t.teardown(() => app.close())
  // Booting the app is not part of what is timed.
  await app.ready()
  return app
}

/** Asserts that the app answers a read and a write with a 503 problem and Retry-After, fast, and stays alive. */
async function assertUnavailable (t: Test, app: App, headers: Record<string, string> = { authorization: 'Bearer mxk_x' }) {
  for (const request of [
    { method: 'GET' as const, url: '/v1/events' },
    { method: 'GET' as const, url: '/v1/companies?q=amazon' },
    { method: 'POST' as const, url: '/v1/companies', headers, payload: { name: 'Unreachable' } }
  ]) {
    const started = Date.now()
    const res = await app.inject(request)
    const elapsed = Date.now() - started
    t.equal(res.statusCode, 503, `${request.method} ${request.url}`)
    t.ok(elapsed < 3000, `answered in ${elapsed} ms`)
    t.match(res.headers['retry-after'], /^[1-9][0-9]*$/, 'Retry-After in seconds')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: '/problems/service-unavailable', status: 503 })
    t.notOk(/ECONN|127\.0\.0\.1|postgres/i.test(res.body), 'the body names no connection details')
  }
  const health = await app.inject({ url: '/healthz' })
  t.equal(health.statusCode, 200, 'liveness does not touch the database')
  const started = Date.now()
  const ready = await app.inject({ url: '/readyz' })
  t.equal(ready.statusCode, 503, 'not ready')
  t.ok(Date.now() - started < 3000, 'readiness answers fast')
  t.match(ready.json(), { status: 'not_ready', checks: { database: 'unreachable' } })
}

t.test('a database that refuses connections: 503 with Retry-After, never a hang', async (t) => {
  const app = await appOver(t, `postgres://postgres@127.0.0.1:${await closedPort()}/x`)
  await assertUnavailable(t, app)
})

t.test('a database that accepts connections and never answers: 503 after the connect timeout', async (t) => {
  const silent = new Set<net.Socket>()
  const blackhole = net.createServer((socket) => { silent.add(socket); socket.on('error', () => {}) })
  const port = await listen(blackhole)
  t.teardown(async () => {
    for (const socket of silent) socket.destroy()
    await closeServer(blackhole)
  })
  const app = await appOver(t, `postgres://postgres@127.0.0.1:${port}/x`)
  await assertUnavailable(t, app)
})

/** A TCP proxy to the test server that can be cut (refusing new connections, dropping open ones) and restored. */
async function createProxy (target: URL) {
  let passing = true
  const sockets = new Set<net.Socket>()
  const track = (socket: net.Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }
  const server = net.createServer((client) => {
    track(client)
    if (!passing) return client.destroy()
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    track(upstream)
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  const port = await listen(server)
  return {
    port,
    pass () { passing = true },
    cut () {
      passing = false
      for (const socket of sockets) socket.destroy()
    },
    async close () {
      for (const socket of sockets) socket.destroy()
      await closeServer(server)
    }
  }
}

if (serverUrl) {
  t.test('the app survives the database going away mid-transaction and recovers by itself', async (t) => {
    const fresh = await freshDatabase()
    await fresh.database.close()
    const proxy = await createProxy(new URL(serverUrl!))
    const url = new URL(fresh.url!)
    url.host = `127.0.0.1:${proxy.port}`
    const database = await createDb({ databaseUrl: url.href, dataDir: 'memory://', connectTimeoutMs: 500, statementTimeoutMs: 3000, poolMax: 5 })
    const app = await buildApp(testConfig(), { database, logger: false })
    t.teardown(async () => {
      await app.close()
      await proxy.close()
      await fresh.drop()
    })

    const headers = await authHeader(app)
    t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Before' } })).statusCode, 201)
    t.equal((await app.inject({ url: '/v1/companies' })).statusCode, 200)
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200)

    // Hold clients checked out of the pool while the connection dies: one idle, one inside a transaction.
    const held = await database.pool!.connect()
    let inFlightError: unknown
    const inFlight = app.db.transaction(async (tx) => { await tx.execute(sql`SELECT pg_sleep(2)`) })
      .catch((err: unknown) => { inFlightError = err })
    await sleep(200)
    const cutAt = Date.now()
    proxy.cut()
    await inFlight
    t.ok(Date.now() - cutAt < 3000, 'the running transaction fails at once instead of hanging')
    t.ok(isDatabaseUnavailable(inFlightError), 'with an error that maps to 503')
    held.release(true)

    await assertUnavailable(t, app, headers)
    await sleep(300)
    t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'the process is still alive')

    proxy.pass()
    const restoredAt = Date.now()
    let status = 0
    while (Date.now() - restoredAt < 2000) {
      status = (await app.inject({ url: '/v1/companies' })).statusCode
      if (status === 200) break
      await sleep(100)
    }
    t.equal(status, 200, `reads recover within 2 s (${Date.now() - restoredAt} ms)`)
    t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'After' } })).statusCode, 201, 'writes recover')
    t.equal((await app.inject({ url: '/readyz' })).statusCode, 200, 'ready again')
    const names = (await app.inject({ url: '/v1/companies' })).json().data.map((c: { name: string }) => c.name).sort()
    t.same(names, ['After', 'Before'], 'nothing written during the outage')
  })
} else {
  t.comment('recovery through a proxy needs a PostgreSQL server: set TEST_DATABASE_URL to run it')
}
