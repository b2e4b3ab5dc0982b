import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import { admin, serverUrl, subprocessEnv } from './database.js'

const root = new URL('../', import.meta.url).pathname

interface Event {
  company: { name: string }
  region: string
  service: string
  action: string
  date: string
  sources: Array<{ url: string, title: string | null }>
}

/** The server runs from the sources (as `npm run dev` does), so that no test has to build dist/ first. */
const serverDir = async () => root

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

interface Server { base: string, output: () => string, stop: () => Promise<{ code: number | null, signal: string | null, ms: number }> }

/** Starts the server on a free port and waits until /healthz answers. */
async function startServer (t: Test, dir: string, env: Record<string, string>): Promise<Server> {
  const port = await freePort()
  const childEnv = subprocessEnv({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env })
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: dir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk) => { output += chunk })
  child.stderr!.on('data', (chunk) => { output += chunk })
  const exited = new Promise<{ code: number | null, signal: string | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })))
  let running = true
  exited.then(() => { running = false }, () => {})
  t.teardown(() => { if (running) child.kill('SIGKILL') })

  const base = `http://127.0.0.1:${port}`
  // Generous: a fresh embedded database runs initdb and every migration first, on a possibly busy CI machine.
  const deadline = Date.now() + 60_000
  for (;;) {
    if (!running) throw new Error(`the server exited before serving:\n${output}`)
    const ok = await fetch(`${base}/healthz`).then((res) => res.ok, () => false)
    if (ok) break
    if (Date.now() > deadline) throw new Error(`the server did not answer /healthz within 60 s:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  return {
    base,
    output: () => output,
    async stop () {
      const started = Date.now()
      child.kill('SIGTERM')
      const timeout = new Promise<{ code: null, signal: 'timeout' }>((resolve) => setTimeout(() => resolve({ code: null, signal: 'timeout' }), 10_000).unref())
      const result = await Promise.race([exited, timeout])
      return { ...result, ms: Date.now() - started }
    }
  }
}

async function getJson (url: string) {
  const res = await fetch(url)
  return { status: res.status, body: await res.json() as Record<string, unknown> & { data: unknown[] } }
}

const key = (e: Event) => `${e.company.name}|${e.service}|${e.action}|${e.region}|${e.date}`

// The servers here run on the embedded database whatever the suite's, so only the PGlite suite runs them.
t.test('npm start: migrations, the sample, restarts and SIGTERM', { skip: serverUrl ? 'runs in the embedded (PGlite) suite' : false }, async (t) => {
  const startedAt = Date.now()
  const dir = await serverDir()
  t.comment(`built in ${Date.now() - startedAt} ms`)
  const seeded = await mkdtemp(join(tmpdir(), 'market-exits-data-'))
  const empty = await mkdtemp(join(tmpdir(), 'market-exits-data-'))
  t.teardown(async () => {
    await rm(seeded, { recursive: true, force: true })
    await rm(empty, { recursive: true, force: true })
  })

  // Two fresh data directories at once: one with the sample, one without.
  const [first, unseeded] = await Promise.all([
    startServer(t, dir, { DATA_DIR: seeded }),
    startServer(t, dir, { DATA_DIR: empty, SEED_SAMPLE: 'false' })
  ])

  t.comment(`both servers up after ${Date.now() - startedAt} ms`)
  const ready = await getJson(`${first.base}/readyz`)
  t.equal(ready.status, 200, 'the migrations were applied')
  t.same(ready.body, { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'not_configured', job_queue: 'ok' } })

  const events = await getJson(`${first.base}/v1/events?limit=200`)
  t.equal(events.status, 200)
  const data = events.body.data as Event[]
  const amazon = data.filter((e) => e.company.name === 'Amazon')
  t.same(amazon.map(key).sort(), [
    'Amazon|AWS new accounts|pause_new_business|BY|2022-03-08',
    'Amazon|AWS new accounts|pause_new_business|RU|2022-03-08',
    'Amazon|New World orders|pause_new_business|RU|2022-03-08',
    'Amazon|New third-party sellers|pause_new_business|BY|2022-03-08',
    'Amazon|New third-party sellers|pause_new_business|RU|2022-03-08',
    'Amazon|Prime Video|suspend|RU|2022-03-08',
    'Amazon|Retail shipping|suspend|BY|2022-03-08',
    'Amazon|Retail shipping|suspend|RU|2022-03-08'
  ], 'the eight Amazon events of 2022-03-08')
  for (const e of amazon) {
    t.ok(e.sources.some((s) => s.url === 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine'), `${key(e)}: Amazon's statement`)
    t.ok(e.sources.some((s) => s.title === 'Amazon arrête les livraisons et le streaming en Russie et en Biélorussie'), `${key(e)}: the RT article`)
  }
  const others = data.filter((e) => e.company.name !== 'Amazon')
  t.same(others.map((e) => `${e.company.name}|${e.action}|${e.region}|${e.date}`).sort(), [
    'Ozon|continue|RU|2022-03-09',
    'Wildberries|continue|RU|2022-03-09',
    'Yandex|continue|RU|2022-03-09'
  ], 'Ozon, Wildberries and Yandex continue in Russia')
  t.equal(data.length, 11, 'nothing else')
  const companies = await getJson(`${first.base}/v1/companies?limit=200`)
  t.equal(companies.body.data.length, 4)
  const regions = await getJson(`${first.base}/v1/regions`)
  t.same((regions.body.data as Array<{ code: string, event_count: number }>).map((r) => `${r.code}:${r.event_count}`).sort(), ['BY:3', 'RU:8'], 'regions in use')
  t.match(first.output(), /loaded the sample/, 'the log says so')

  const none = await getJson(`${unseeded.base}/v1/events`)
  t.equal(none.status, 200)
  t.same(none.body, { data: [], next_cursor: null }, 'SEED_SAMPLE=false serves an empty list')
  t.same((await getJson(`${unseeded.base}/readyz`)).body, { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'not_configured', job_queue: 'ok' } })

  for (const [name, server] of [['seeded', first], ['unseeded', unseeded]] as const) {
    const stopped = await server.stop()
    t.same({ code: stopped.code, signal: stopped.signal }, { code: 0, signal: null }, `${name}: SIGTERM exits 0 (${stopped.ms} ms)`)
    t.ok(stopped.ms < 10_000, `${name}: within 10 s`)
  }

  // A restart on the same data: migrations are already there, and the sample is not loaded twice.
  const second = await startServer(t, dir, { DATA_DIR: seeded })
  t.equal((await getJson(`${second.base}/readyz`)).status, 200)
  const after = await getJson(`${second.base}/v1/events?limit=200`)
  t.same((after.body.data as Event[]).map(key).sort(), data.map(key).sort(), 'the same eleven events')
  t.equal((await getJson(`${second.base}/v1/companies?limit=200`)).body.data.length, 4, 'the same four companies')
  t.notMatch(second.output(), /loaded the sample/)
  const stopped = await second.stop()
  t.same({ code: stopped.code, signal: stopped.signal }, { code: 0, signal: null }, `SIGTERM exits 0 again (${stopped.ms} ms)`)
})

if (serverUrl) {
  t.test('npm start on an empty PostgreSQL database: migrates, loads the sample, exits on SIGTERM', async (t) => {
    const dir = await serverDir()
    const name = `market_exits_t_${process.pid}_${randomUUID().slice(0, 8)}`
    await admin(`CREATE DATABASE "${name}"`)
    t.teardown(() => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`))
    const url = new URL(serverUrl!)
    url.pathname = `/${name}`
    const server = await startServer(t, dir, { DATABASE_URL: url.href, DATA_DIR: join(tmpdir(), `market-exits-unused-${process.pid}`) })
    t.same((await getJson(`${server.base}/readyz`)).body, { status: 'ready', checks: { database: 'ok', migrations: 'ok', redis: 'not_configured', job_queue: 'ok' } })
    const events = await getJson(`${server.base}/v1/events?limit=200`)
    t.equal(events.body.data.length, 11, 'the sample is loaded')
    const stopped = await server.stop()
    t.same({ code: stopped.code, signal: stopped.signal }, { code: 0, signal: null }, `SIGTERM exits 0 (${stopped.ms} ms)`)
  })
}
