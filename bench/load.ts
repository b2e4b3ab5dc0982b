import autocannon from 'autocannon'
import { cpuMsOf, MB, sampleRss, type RunningServer } from './support.js'

/** One request shape; `setup` may vary it per request (a new body, the next id). */
export interface LoadRequest {
  method?: 'GET' | 'POST' | 'PATCH'
  path: string
  headers?: Record<string, string>
  body?: string
  setup?: () => { path?: string, headers?: Record<string, string>, body?: string }
  onResponse?: (status: number, body: string) => void
  /** Runs before each run: the requests still in flight when the last run stopped were answered unseen. */
  before?: () => Promise<void>
}

export interface LoadRun {
  rps: number
  p50: number
  p99: number
  peakRssMb: number
  /** The server's CPU time per request, user and system, in milliseconds. */
  cpuMs: number
  non2xx: number
  errors: number
}

/** How long a run lasts: `seconds`, or `requests` in all (the quick benchmark, which only checks that it works). */
export interface RunLength { connections: number, seconds?: number, requests?: number }

/** Drives one server with `connections` clients for the run's length, sampling its RSS meanwhile. */
export async function load (server: RunningServer, request: LoadRequest, options: RunLength): Promise<LoadRun> {
  await request.before?.()
  const stopSampling = sampleRss(server.pid)
  const cpuBefore = cpuMsOf(server.pid)
  const result = await autocannon({
    url: server.url,
    connections: options.connections,
    ...(options.requests === undefined ? { duration: options.seconds } : { amount: options.requests }),
    requests: [{
      method: request.method ?? 'GET',
      path: request.path,
      headers: { 'content-type': 'application/json', ...request.headers },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.setup === undefined ? {} : { setupRequest: (req: autocannon.Request) => ({ ...req, ...request.setup!() }) }),
      ...(request.onResponse === undefined ? {} : { onResponse: (status: number, body: string) => request.onResponse!(status, body) })
    }]
  })
  const peak = stopSampling()
  const cpuMs = (cpuMsOf(server.pid) - cpuBefore) / Math.max(result.requests.total, 1)
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    peakRssMb: Math.round(peak / MB),
    cpuMs,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export interface Comparison {
  scenario: string
  ours: LoadRun[]
  bare: LoadRun[]
  /** ours/bare requests per second, per pair of runs: median, lowest, highest. */
  ratio: { median: number, min: number, max: number }
  /** ours/bare p99 latency, median of the pairs. */
  p99Ratio: number
}

/**
 * Runs a scenario on our server and on the bare one in turns (A, B, A, B, …), after one short warm-up each, so
 * that drift on a noisy machine weighs on both; the ratio is taken per pair.
 */
export async function compare (
  scenario: string,
  servers: { ours: RunningServer, bare: RunningServer },
  requests: { ours: LoadRequest, bare: LoadRequest },
  options: RunLength & { rounds: number, warmUp: boolean }
): Promise<Comparison> {
  if (options.warmUp) for (const side of ['ours', 'bare'] as const) await load(servers[side], requests[side], { connections: options.connections, seconds: 1 })
  const ours: LoadRun[] = []
  const bare: LoadRun[] = []
  for (let round = 0; round < options.rounds; round++) {
    ours.push(await load(servers.ours, requests.ours, options))
    bare.push(await load(servers.bare, requests.bare, options))
  }
  for (const [side, runs] of [['ours', ours], ['bare', bare]] as const) {
    const failed = runs.find((r) => r.non2xx > 0 || r.errors > 0)
    if (failed) throw new Error(`${scenario}, ${side}: ${failed.non2xx} responses not 2xx, ${failed.errors} errors`)
  }
  const ratios = ours.map((run, i) => run.rps / bare[i]!.rps)
  return {
    scenario,
    ours,
    bare,
    ratio: { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) },
    p99Ratio: median(ours.map((run, i) => run.p99 / Math.max(bare[i]!.p99, 1)))
  }
}

export { median }
