import { connect, createServer, type Socket } from 'node:net'
import type { Test } from 'tap'

/**
 * - `pass`: bytes flow as they come.
 * - `delay`: every chunk, both ways, arrives `delayMs` late (in order).
 * - `blackhole`: new connections are accepted and never answered; bytes on open ones are held, as a network
 *   partition holds them, and flow again when the mode changes.
 * - `reset`: every connection, open or new, is reset (TCP RST).
 */
export type ProxyMode = 'pass' | 'delay' | 'blackhole' | 'reset'

export interface TcpProxy {
  port: number
  setMode: (mode: ProxyMode, delayMs?: number) => void
}

interface Direction { to: Socket, held: Buffer[], lastDue: number }

/** A TCP proxy on loopback in front of `targetPort`, for putting a database behind a bad network. */
export async function startProxy (t: Test, targetPort: number): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass'
  let delayMs = 0
  const sockets = new Set<Socket>()
  const directions = new Set<Direction>()
  // Clients that connected during a black hole, with what they sent meanwhile.
  const waiting = new Map<Socket, Buffer[]>()

  const forward = (direction: Direction, chunk: Buffer) => {
    if (mode === 'blackhole') {
      direction.held.push(chunk)
      return
    }
    const now = Date.now()
    const due = Math.max(now + (mode === 'delay' ? delayMs : 0), direction.lastDue)
    direction.lastDue = due
    if (due <= now) direction.to.write(chunk)
    else setTimeout(() => direction.to.write(chunk), due - now)
  }

  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  }

  const join = (client: Socket, early: Buffer[] = []) => {
    const upstream = connect(targetPort, '127.0.0.1')
    track(upstream)
    const up: Direction = { to: upstream, held: [], lastDue: 0 }
    const down: Direction = { to: client, held: [], lastDue: 0 }
    directions.add(up).add(down)
    client.on('data', (chunk: Buffer) => forward(up, chunk))
    upstream.on('data', (chunk: Buffer) => forward(down, chunk))
    const end = () => {
      directions.delete(up)
      directions.delete(down)
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end)
    upstream.on('close', end)
    for (const chunk of early) forward(up, chunk)
  }

  const server = createServer((client) => {
    track(client)
    if (mode === 'reset') client.resetAndDestroy()
    else if (mode === 'blackhole') {
      const held: Buffer[] = []
      waiting.set(client, held)
      client.on('data', (chunk: Buffer) => held.push(chunk))
      client.once('close', () => waiting.delete(client))
    } else join(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })

  return {
    port: (server.address() as { port: number }).port,
    setMode (next, nextDelayMs = 0) {
      mode = next
      delayMs = nextDelayMs
      if (mode === 'reset') {
        for (const socket of sockets) socket.resetAndDestroy()
        return
      }
      if (mode === 'blackhole') return
      for (const direction of directions) {
        const held = direction.held.splice(0)
        for (const chunk of held) forward(direction, chunk)
      }
      for (const [client, held] of waiting) {
        waiting.delete(client)
        client.removeAllListeners('data')
        join(client, held)
      }
    }
  }
}
