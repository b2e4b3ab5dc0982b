import { open, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'

const LOCK_FILE = 'market-exits.lock'

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the data directory for this process. PGlite is single-process: two processes writing one
 * directory would corrupt it, so a second one is refused while the first lives. A lock left by a
 * process that died is taken over. Returns the release function.
 */
export async function lockDataDir (dataDir: string): Promise<() => Promise<void>> {
  const path = join(dataDir, LOCK_FILE)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => rm(path, { force: true })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const holder = Number(await readFile(path, 'utf8').catch(() => ''))
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new Error(`The embedded database in ${dataDir} is in use by process ${holder}; stop it first, ` +
          'or use a PostgreSQL server (DATABASE_URL) to share one database between processes.')
      }
      await rm(path, { force: true })
    }
  }
  throw new Error(`Could not lock the embedded database in ${dataDir}`)
}
