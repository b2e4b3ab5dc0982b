import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { parseKeyCommand } from '../../src/cli/key-command.js'
import { createDb, type Database } from '../../src/db/client.js'
import { freshDatabase, serverUrl, subprocessEnv } from '../database.js'
import { testConfig } from '../helper.js'

const root = new URL('../../', import.meta.url).pathname

interface Run { code: number, stdout: string, stderr: string }

/** Runs a command in the repository with a clean database environment plus `env`. */
function run (command: string, args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd: root, env: subprocessEnv(env), timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr })
    })
  })
}

/** The command line as `npm run key:*` runs it, without npm in between. */
const keys = (args: string[], env: Record<string, string>) => run(process.execPath, ['--import', 'tsx', 'src/cli/keys.ts', ...args], env)

/** The key printed alone on the last line of stdout. */
function printedKey (t: Test, result: Run): string {
  t.equal(result.code, 0, `exit 0 (stderr: ${result.stderr.trim()})`)
  t.ok(result.stdout.endsWith('\n'), 'stdout ends with a newline')
  const lines = result.stdout.trimEnd().split('\n')
  const key = lines[lines.length - 1]!
  t.match(key, /^[A-Za-z0-9_-]{30,}$/, 'the last line is the key alone')
  return key
}

/** POSTs a company with this key on a database the CLI wrote to; closes the database afterwards. */
async function createCompanyWith (database: Database, key: string): Promise<number> {
  const app = await buildApp(testConfig(), { database, logger: false })
  try {
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: { authorization: `Bearer ${key}` }, payload: { name: `Via CLI ${Math.random()}` } })
    return res.statusCode
  } finally {
    await app.close()
  }
}

// The embedded cases do not depend on the suite's database: they run once, in the embedded suite, and the
// PostgreSQL suite runs the PostgreSQL case.
const embeddedOnly = { skip: serverUrl ? 'runs in the embedded (PGlite) suite' : false }

t.test('on a fresh embedded database', embeddedOnly, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'market-exits-cli-'))
  t.teardown(() => rm(dataDir, { recursive: true, force: true }))
  const env = { DATA_DIR: dataDir }

  // The command exactly as documented: it applies the migrations to the empty DATA_DIR, and prints the key.
  const created = await run('npm', ['run', 'key:create', '--', '--name', 'ci-bot', '--scopes', 'read,write'], env)
  const key = printedKey(t, created)
  t.match(created.stderr, /shown once/i, 'the explanation goes to stderr')

  t.equal(await createCompanyWith(await createDb({ dataDir }), key), 201, 'the key authorises a write')

  const duplicate = await keys(['create', '--name', 'ci-bot'], env)
  t.not(duplicate.code, 0, 'a second active key of the same name is refused')
  t.equal(duplicate.stdout, '', 'and prints no key')

  const revoked = await keys(['revoke', '--name', 'ci-bot'], env)
  t.equal(revoked.code, 0, `revoke exits 0 (${revoked.stderr.trim()})`)
  t.equal(await createCompanyWith(await createDb({ dataDir }), key), 401, 'the revoked key is refused')

  const unknown = await keys(['revoke', '--name', 'nobody'], env)
  t.not(unknown.code, 0, 'revoking an unknown name fails')
  t.match(unknown.stderr, /nobody/)
})

t.test('bad command lines are refused with the usage text', async (t) => {
  const cases: Record<string, string[]> = {
    'unknown scope': ['create', '--name', 'x', '--scopes', 'read,superuser'],
    'missing --name': ['create', '--scopes', 'read'],
    'blank --name': ['create', '--name', '  '],
    'revoke without --name': ['revoke'],
    'no command': [],
    'unknown command': ['list'],
    'unknown option': ['create', '--nmae', 'x']
  }
  for (const [why, args] of Object.entries(cases)) t.throws(() => parseKeyCommand(args), /usage/, why)
  t.throws(() => parseKeyCommand(cases['unknown scope']!), /unknown scope 'superuser'/, 'the unknown scope is named')
  t.same(parseKeyCommand(['create', '--name', ' bot ']), { command: 'create', name: 'bot', scopes: ['read', 'write'] }, 'read,write by default, the name trimmed')
  t.same(parseKeyCommand(['revoke', '--name', 'bot']), { command: 'revoke', name: 'bot', scopes: ['read', 'write'] })
})

t.test('the command exits non-zero on a bad command line, with the usage on stderr, and touches no database', embeddedOnly, async (t) => {
  const dataDir = join(tmpdir(), `market-exits-cli-never-${process.pid}`)
  const results = await Promise.all([['create', '--name', 'x', '--scopes', 'read,superuser'], []].map((args) => keys(args, { DATA_DIR: dataDir })))
  for (const result of results) {
    t.not(result.code, 0, 'non-zero exit')
    t.match(result.stderr, /usage/i, 'usage message')
    t.equal(result.stdout, '', 'nothing on stdout')
  }
  t.match(results[0]!.stderr, /superuser/, 'the unknown scope is named')
  t.notOk(existsSync(dataDir), 'no database was created')
})

if (serverUrl) {
  t.test('on PostgreSQL (DATABASE_URL)', async (t) => {
    const fresh = await freshDatabase()
    t.teardown(() => fresh.drop())
    await fresh.database.close()
    const env = { DATABASE_URL: fresh.url!, DATA_DIR: join(tmpdir(), `market-exits-cli-unused-${process.pid}`) }
    const key = printedKey(t, await keys(['create', '--name', 'pg-bot', '--scopes', 'write'], env))
    const open = () => createDb({ databaseUrl: fresh.url!, dataDir: 'memory://' })
    t.equal(await createCompanyWith(await open(), key), 201, 'the key authorises a write')
    t.equal((await keys(['revoke', '--name', 'pg-bot'], env)).code, 0)
    t.equal(await createCompanyWith(await open(), key), 401, 'the revoked key is refused')
  })
}
