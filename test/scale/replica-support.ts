import { appendFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import pg from 'pg'
import type { Test } from 'tap'
import { freePort, postgresOwnedDir, runPostgresTool } from '../faults/support.js'

export interface Server {
  url: string
  port: number
  /** Stops the server the way a crash does: no checkpoint, every backend killed. */
  crash: () => Promise<void>
  start: () => Promise<void>
}

export interface ReplicatedCluster {
  primary: Server
  /** A hot standby streaming from the primary, applying each commit `applyDelayMs` after the primary made it. */
  replica: Server
  /** One query on a server, on a connection of its own. */
  query: <Row>(server: Server, text: string) => Promise<Row[]>
}

/**
 * A throwaway primary and a streaming replica of it on loopback (never the shared server), removed at teardown.
 * The replica is a `pg_basebackup -R` copy with `recovery_min_apply_delay`, so that it is always that far behind.
 */
export async function startReplicatedCluster (t: Test, { applyDelayMs }: { applyDelayMs: number }): Promise<ReplicatedCluster> {
  const dir = await postgresOwnedDir('market-exits-replica-')
  const servers: Server[] = []
  t.teardown(async () => {
    for (const server of servers) await server.crash().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  const server = async (name: string, settings: string): Promise<Server> => {
    const data = join(dir, name)
    const port = await freePort()
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c max_connections=60 -c shared_buffers=32MB ${settings}`
    const start = async () => { await runPostgresTool('pg_ctl', ['-D', data, '-l', join(dir, `${name}.log`), '-w', '-t', '30', '-o', options, 'start']) }
    const crash = async () => { await runPostgresTool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']) }
    const created = { url: `postgres://postgres@127.0.0.1:${port}/postgres`, port, start, crash }
    servers.push(created)
    return created
  }

  await runPostgresTool('initdb', ['-D', join(dir, 'primary'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'])
  // initdb's own pg_hba.conf already trusts replication from loopback; said again here so that the test does not depend on it.
  await appendFile(join(dir, 'primary', 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 trust\n')
  const primary = await server('primary', '-c wal_level=replica -c max_wal_senders=4 -c wal_keep_size=64MB')
  await primary.start()

  await runPostgresTool('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', join(dir, 'replica'),
    '-R', '-X', 'stream', '-c', 'fast', '--no-sync'])
  const replica = await server('replica', `-c hot_standby=on -c recovery_min_apply_delay=${applyDelayMs}ms`)
  await replica.start()

  return {
    primary,
    replica,
    async query<Row> (target: Server, text: string) {
      const client = new pg.Client({ connectionString: target.url, connectionTimeoutMillis: 2000 })
      await client.connect()
      try {
        return (await client.query(text)).rows as Row[]
      } finally {
        await client.end()
      }
    }
  }
}
