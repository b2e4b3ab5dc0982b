import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { load, type LoadRequest } from './load.js'
import { buildServer, createKey, databaseUrl, newEventBodies, startServer } from './support.js'

/**
 * `npm run bench:profile -- --path /v1/events/<id>`: runs our server under `--cpu-prof` against the database an earlier
 * `npm run bench` loaded (`--events 1000000` by default), drives one request (`--method`, `--body`: a JSON body) with
 * 50 connections and a read and write key, and prints where the server's CPU time went: by package or source file, and
 * the functions with the most self time. `--create` drives creates of new events as the benchmark's create scenario does.
 */
const { values } = parseArgs({
  options: {
    path: { type: 'string' },
    method: { type: 'string', default: 'GET' },
    body: { type: 'string' },
    create: { type: 'boolean', default: false },
    events: { type: 'string', default: '1000000' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '25' }
  }
})
if (values.create) Object.assign(values, { method: 'POST', path: '/v1/events' })
if (values.path === undefined) throw new Error('--path is required, for instance --path "/v1/events?limit=50"')

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[] }

/** Where a frame's code lives: a package, one of our source files, Node itself, or the engine. */
function ownerOf (url: string): string {
  if (url === '') return '(engine: GC, native code, idle)'
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (pkg) return pkg[1]!
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const ours = /\/(dist|src)\/(.+)$/.exec(url)
  return ours ? `ours: ${ours[2]}` : url
}

const database = databaseUrl(`market_exits_bench_${values.events}`)
const key = { authorization: await createKey({ databaseUrl: database }, ['read', 'write']) }
buildServer()
const dir = mkdtempSync(join(tmpdir(), 'market-exits-profile-'))
const server = await startServer(['--cpu-prof', '--cpu-prof-dir', dir, 'dist/server.js'], {
  DATABASE_URL: database, SEED_SAMPLE: 'false', LOG_LEVEL: 'warn', RATE_LIMIT_PER_IP: '0', RATE_LIMIT_PER_KEY: '0'
}, '/readyz')
try {
  const nextBody = values.create ? await newEventBodies(database) : undefined
  const request: LoadRequest = {
    method: values.method as 'GET' | 'POST',
    path: values.path,
    headers: key,
    ...(values.body === undefined ? {} : { body: values.body }),
    ...(nextBody === undefined ? {} : { setup: () => ({ body: nextBody() }) })
  }
  const run = await load(server, request, { connections: 50, seconds: Number(values.seconds) })
  console.log(`${values.path}: ${Math.round(run.rps)} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, ${run.non2xx} not 2xx`)
} finally {
  await server.stop()
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'))
if (file === undefined) throw new Error('the server wrote no profile')
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile
rmSync(dir, { recursive: true, force: true })

const selfTime = new Map<number, number>()
profile.samples.forEach((node, i) => selfTime.set(node, (selfTime.get(node) ?? 0) + (profile.timeDeltas[i] ?? 0)))
const byOwner = new Map<string, number>()
const byFunction = new Map<string, number>()
let total = 0
for (const node of profile.nodes) {
  const micros = selfTime.get(node.id) ?? 0
  if (node.callFrame.functionName === '(idle)') continue
  total += micros
  const owner = ownerOf(node.callFrame.url)
  byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros)
  const name = `${node.callFrame.functionName || '(anonymous)'} ${owner}:${node.callFrame.lineNumber + 1}`
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros)
}
const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([name, micros]) => `${(100 * micros / total).toFixed(1).padStart(5)}%  ${name}`).join('\n')
console.log(`\nbusy CPU time ${(total / 1e6).toFixed(1)} s, by owner:\n${top(byOwner, 20)}`)
console.log(`\nfunctions by self time:\n${top(byFunction, Number(values.top))}`)
