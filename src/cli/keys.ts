import { parseArgs } from 'node:util'
import { databaseOptions, loadConfig } from '../config.js'
import { createDb } from '../db/client.js'
import { runMigrations } from '../db/migrate.js'
import { SCOPES } from '../db/schema.js'
import { createApiKeyService, type Scope } from '../services/api-keys.js'

const usage = `usage:
  npm run key:create -- --name NAME [--scopes read,write]   prints the new key alone on its last line
  npm run key:revoke -- --name NAME`

/** Parses `create|revoke --name N [--scopes a,b]`; throws with the usage text on bad input. */
function parseKeyCommand (argv: string[]): { command: 'create' | 'revoke', name: string, scopes: Scope[] } {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { name: { type: 'string' }, scopes: { type: 'string', default: 'read,write' } }
    })
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`)
  }
  const { positionals, values } = parsed
  const command = positionals[0]
  if ((command !== 'create' && command !== 'revoke') || !values.name?.trim()) throw new Error(usage)
  const scopes = values.scopes.split(',').map((s) => s.trim())
  const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s))
  if (unknown !== undefined) throw new Error(`unknown scope '${unknown}'; scopes are ${SCOPES.join(', ')}\n${usage}`)
  return { command, name: values.name.trim(), scopes: scopes as Scope[] }
}

async function main (): Promise<void> {
  const { command, name, scopes } = parseKeyCommand(process.argv.slice(2))
  const database = await createDb(databaseOptions(loadConfig()))
  try {
    // A newcomer may create a key before the server ever ran: bring the schema up to date first.
    await runMigrations(database)
    const apiKeys = createApiKeyService({ db: database.db })
    if (command === 'create') {
      const created = await apiKeys.create(name, scopes)
      process.stderr.write(`Created API key '${created.name}' (${created.scopes.join(', ')}). It is shown once; store it now:\n`)
      process.stdout.write(`${created.key}\n`)
    } else {
      await apiKeys.revoke(name)
      process.stderr.write(`Revoked API key '${name}'.\n`)
    }
  } finally {
    await database.close()
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 1
})
