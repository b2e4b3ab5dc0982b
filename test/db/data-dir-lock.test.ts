import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createDb } from '../../src/db/client.js'
import { serverUrl, templateImage } from '../database.js'

// The lock guards an embedded data directory; it runs once, in the embedded suite.
const embeddedOnly = { skip: serverUrl ? 'runs in the embedded (PGlite) suite' : false }

t.test('a second opener of an embedded data directory is refused while the first lives', embeddedOnly, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'me-lock-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const first = await createDb({ dataDir, pgliteImage: await templateImage() })
  await t.rejects(createDb({ dataDir }), /in use by process/)
  await first.close()
  const again = await createDb({ dataDir })
  await again.close()
})

t.test('a lock left by a process that died is taken over', embeddedOnly, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'me-lock-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const child = spawn(process.execPath, ['-e', ''])
  const deadPid = child.pid!
  await new Promise((resolve) => child.on('exit', resolve))
  await writeFile(join(dataDir, 'market-exits.lock'), String(deadPid))
  const database = await createDb({ dataDir, pgliteImage: await templateImage() })
  t.equal(await readFile(join(dataDir, 'market-exits.lock'), 'utf8'), String(process.pid))
  await database.close()
})
