import { envSchema } from 'env-schema'
import { Type, type Static } from '@sinclair/typebox'
import type { DatabaseOptions } from './db/client.js'

export const ConfigSchema = Type.Object({
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000 }),
  HOST: Type.String({ default: '127.0.0.1' }),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ default: './data' }),
  DB_POOL_MAX: Type.Integer({ minimum: 1, maximum: 200, default: 10 }),
  DB_CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 2000 }),
  DB_STATEMENT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000 }),
  // Read replicas (comma-separated postgres:// URLs; PostgreSQL only), and how long a read with a consistency token
  // waits for one to catch up before the primary serves it.
  DATABASE_READ_URLS: Type.String({ default: '' }),
  READ_CONSISTENCY_WAIT_MS: Type.Integer({ minimum: 0, maximum: 5000, default: 100 }),
  READ_REQUIRES_KEY: Type.Boolean({ default: false }),
  MIGRATE_ON_START: Type.Boolean({ default: true }),
  SEED_SAMPLE: Type.Boolean({ default: true }),
  BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 1_048_576 }),
  REQUEST_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 30_000 }),
  HANDLER_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 15_000 }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 5000 }),
  // Load shedding (503 with Retry-After); 0 turns a check off. Utilisation is off by default: a benchmark or a
  // busy but healthy process runs near 1, while a mean delay of a second means requests are queueing.
  OVERLOAD_MAX_EVENT_LOOP_DELAY_MS: Type.Integer({ minimum: 0, default: 1000 }),
  OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: Type.Number({ minimum: 0, maximum: 1, default: 0 }),
  EXPORT_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 600_000 }),
  EXPORT_BATCH_ROWS: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000 }),
  IMPORT_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024, default: 1_073_741_824 }),
  IMPORT_TIMEOUT_MS: Type.Integer({ minimum: 1000, default: 600_000 }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  REDIS_KEY_PREFIX: Type.String({ default: 'market-exits:' }),
  // Requests per window; 0 turns that limit off.
  RATE_LIMIT_PER_KEY: Type.Integer({ minimum: 0, default: 600 }),
  RATE_LIMIT_PER_IP: Type.Integer({ minimum: 0, default: 60 }),
  RATE_LIMIT_WINDOW_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 60 }),
  CORS_ORIGINS: Type.String({ default: '' }),
  // Webhooks: whether this instance dispatches and delivers (subscriptions can be managed either way).
  WEBHOOKS_ENABLED: Type.Boolean({ default: true }),
  // Ranges that webhook targets may be in although they are not public (e.g. `127.0.0.0/8,::1/128` for tests).
  WEBHOOK_ALLOWED_CIDRS: Type.String({ default: '' }),
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000, default: 10_000 }),
  WEBHOOK_MAX_ATTEMPTS: Type.Integer({ minimum: 1, maximum: 50, default: 8 }),
  WEBHOOK_RETRY_DELAY_SECONDS: Type.Integer({ minimum: 1, maximum: 86_400, default: 30 }),
  WEBHOOK_POLL_INTERVAL_MS: Type.Integer({ minimum: 500, maximum: 600_000, default: 2000 }),
  // GET /metrics answers only with `Authorization: Bearer <METRICS_TOKEN>`; unset, metrics are off and it is a 404.
  METRICS_TOKEN: Type.Optional(Type.String({ minLength: 16, maxLength: 512, pattern: '^\\S+$' })),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), { default: 'info' })
})
export type Config = Static<typeof ConfigSchema>

/** Reads and validates the environment; an invalid setting stops the process at boot. */
export function loadConfig (env: NodeJS.ProcessEnv = process.env): Config {
  return envSchema<Config>({ schema: ConfigSchema, data: env, dotenv: false })
}

export function databaseOptions (config: Config): DatabaseOptions {
  return {
    databaseUrl: config.DATABASE_URL,
    dataDir: config.DATA_DIR,
    poolMax: config.DB_POOL_MAX,
    connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS
  }
}
