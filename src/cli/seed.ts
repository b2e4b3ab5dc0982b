import { createReadStream, existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { databaseOptions, loadConfig } from '../config.js'
import { createDb } from '../db/client.js'
import { runMigrations } from '../db/migrate.js'
import { createImportService } from '../services/imports.js'
import { SYSTEM_ACTOR } from '../services/revisions.js'

const usage = `usage:
  npm run seed -- --dataset yale-celi [--data-dir ../shared/data] [--snapshots]
    loads the Yale CELI list of companies in Russia (CC BY-NC-SA 4.0, Yale CELI, Sonnenfeld et al.) into the configured
    database: the latest copy (yale_celi_russia_2025-05-21.csv) and, with --snapshots, the dated copies as a history`

const LATEST = { file: 'yale_celi_russia_2025-05-21.csv', date: '2025-05-21' }
const SNAPSHOTS = 'yale_celi_russia_snapshots.csv'

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: { dataset: { type: 'string' }, 'data-dir': { type: 'string', default: '../shared/data' }, snapshots: { type: 'boolean', default: false } }
  })
  if (values.dataset !== 'yale-celi') throw new Error(usage)
  const dir = resolve(values['data-dir'])
  const files = [resolve(dir, LATEST.file), ...(values.snapshots ? [resolve(dir, SNAPSHOTS)] : [])]
  const absent = files.find((f) => !existsSync(f))
  if (absent !== undefined) throw new Error(`${absent} does not exist; the Yale CELI files are not in this repository (see README.md)\n${usage}`)

  const config = loadConfig()
  const database = await createDb(databaseOptions(config))
  try {
    await runMigrations(database)
    const imports = createImportService({ db: database.db, database, timeoutMs: config.IMPORT_TIMEOUT_MS })
    for (const file of files) {
      const snapshots = file.endsWith(SNAPSHOTS)
      const { id, status } = await imports.run(createReadStream(file), {
        format: snapshots ? 'yale-celi-snapshots' : 'yale-celi',
        mode: 'partial',
        date: snapshots ? undefined : LATEST.date,
        actor: { ...SYSTEM_ACTOR, reason: 'npm run seed -- --dataset yale-celi' },
        bodyLimit: config.IMPORT_BODY_LIMIT_BYTES
      })
      const result = await imports.get(id, { limit: 1000 })
      const { created, updated, unchanged, rejected } = result.counts
      process.stderr.write(`${file}: import ${id} ${status}: ${created} created, ${updated} updated, ${unchanged} unchanged, ${rejected} rejected\n`)
      for (const e of result.errors) process.stderr.write(`  line ${e.line} ${e.field}: ${e.message}\n`)
    }
  } finally {
    await database.close()
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`)
  process.exitCode = 1
})
