export const UNIQUE_VIOLATION = '23505'
export const FOREIGN_KEY_VIOLATION = '23503'
export const UNDEFINED_TABLE = '42P01'
export const UNDEFINED_SCHEMA = '3F000'
const DEADLOCK_DETECTED = '40P01'
const SERIALIZATION_FAILURE = '40001'

interface PgErrorFields { code?: unknown, constraint?: unknown, message?: unknown, cause?: unknown }

/** The Postgres error behind an error, looking through drizzle's DrizzleQueryError wrapper. */
function pgError (err: unknown): PgErrorFields | undefined {
  let current = err as PgErrorFields | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.code === 'string') return current
    current = current.cause as PgErrorFields | undefined
  }
  return undefined
}

export function pgErrorCode (err: unknown): string | undefined {
  return pgError(err)?.code as string | undefined
}

export function pgConstraint (err: unknown): string | undefined {
  return pgError(err)?.constraint as string | undefined
}

// Class 08 (connection), 57P01-57P03 (shutdown, crash, cannot connect now), 57014 (statement timeout),
// 53300 (too many connections), and the Node socket errors.
const UNAVAILABLE_CODES = /^(08...|57P0[1-3]|57014|53300|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH)$/
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error|Cannot use a pool after calling end/

/** True when an error means the database cannot be reached or did not answer in time. */
export function isDatabaseUnavailable (err: unknown): boolean {
  const code = pgErrorCode(err)
  if (code !== undefined) return UNAVAILABLE_CODES.test(code)
  let current = err as PgErrorFields | undefined
  for (let depth = 0; current && depth < 5; depth++) {
    if (typeof current.message === 'string' && UNAVAILABLE_MESSAGES.test(current.message)) return true
    current = current.cause as PgErrorFields | undefined
  }
  return false
}

/**
 * True when PostgreSQL aborted a transaction to resolve a conflict with a concurrent one (a deadlock, a serialisation
 * failure): nothing of it was applied, and running it again is expected to succeed.
 */
export function isTransactionConflict (err: unknown): boolean {
  const code = pgErrorCode(err)
  return code === DEADLOCK_DETECTED || code === SERIALIZATION_FAILURE
}
