import { mkdir, writeFile } from 'node:fs/promises'
import { buildApp } from './app.js'
import { loadConfig } from './config.js'
import { createDb } from './db/client.js'

/** Writes the OpenAPI document that the routes describe; no database content is needed, so it uses an in-memory one. */
const database = await createDb({ dataDir: 'memory://' })
const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent', WEBHOOKS_ENABLED: 'false' }), { database, logger: false })
await app.ready()
await mkdir(new URL('../openapi/', import.meta.url), { recursive: true })
await writeFile(new URL('../openapi/openapi.json', import.meta.url), `${JSON.stringify(app.swagger(), null, 2)}\n`)
await app.close()
