import { once } from 'node:events'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Received { headers: IncomingHttpHeaders, body: string, at: number }

/** A local HTTP receiver of webhook deliveries: it records each request and answers the next planned status (200 after the plan runs out). */
export class Receiver {
  readonly received: Received[] = []
  private server: Server | undefined
  private plan: number[] = []
  port = 0

  get url (): string { return `http://127.0.0.1:${this.port}/hook` }

  /** Statuses to answer, in order, before answering 200. */
  answer (...statuses: number[]): this {
    this.plan.push(...statuses)
    return this
  }

  /** Listens on `port` (0: any free port). */
  async start (port = this.port): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        this.received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() })
        res.writeHead(this.plan.shift() ?? 200).end()
      })
    })
    this.server.listen(port, '127.0.0.1')
    await once(this.server, 'listening')
    this.port = (this.server.address() as AddressInfo).port
    return this
  }

  async stop (): Promise<void> {
    if (!this.server) return
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server!.close(resolve))
    this.server = undefined
  }
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T> (check: () => Promise<T | undefined> | T | undefined, timeoutMs = 45_000, what = 'the condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
