import { databaseOptions, loadConfig } from '../config.js'
import { createDb } from '../db/client.js'
import { runMigrations } from '../db/migrate.js'
import { createApiKeyService } from '../services/api-keys.js'
import { parseKeyCommand } from './key-command.js'

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
