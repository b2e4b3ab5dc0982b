const DATE = /^\d{4}-\d{2}-\d{2}$/

/**
 * True for a real calendar date written YYYY-MM-DD that Postgres can store: year 0 exists in
 * JavaScript's proleptic calendar but not in Postgres's, and an impossible month makes Date throw.
 */
export function isCalendarDate (value: string): boolean {
  if (!DATE.test(value) || value.startsWith('0000')) return false
  const time = Date.parse(`${value}T00:00:00Z`)
  return !Number.isNaN(time) && new Date(time).toISOString().startsWith(value)
}

const PG_TIMESTAMP = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:\+00(?::?00)?|Z)$/

/** A UTC timestamp as Postgres prints it (`2026-11-26 15:11:08.12+00`) in RFC 3339 with microseconds. */
export function toRfc3339 (timestamp: string): string {
  const match = PG_TIMESTAMP.exec(timestamp)
  if (!match) throw new Error(`not a UTC timestamp: ${timestamp}`)
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`
}
