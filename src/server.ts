import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.js'
import { databaseOptions, loadConfig } from './config.js'
import { createDb } from './db/client.js'
import { runMigrations } from './db/migrate.js'
import { seedSample } from './sample.js'

const config = loadConfig()
const database = await createDb(databaseOptions(config))
if (config.MIGRATE_ON_START) await runMigrations(database)
const app = await buildApp(config, { database })
if (config.SEED_SAMPLE && await seedSample(app.db, app.services)) app.log.info('loaded the sample events')

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'closing after an error')
  else app.log.info({ signal }, 'closing')
  await app.close()
})

await app.listen({ port: config.PORT, host: config.HOST })
