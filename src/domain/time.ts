const PG_TIMESTAMP = /^(\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:\+00(?::?00)?|Z)$/

/** A UTC timestamp as Postgres prints it (`2026-11-26 15:11:08.12+00`) in RFC 3339 with microseconds. */
export function toRfc3339 (timestamp: string): string {
  const match = PG_TIMESTAMP.exec(timestamp)
  if (!match) throw new Error(`not a UTC timestamp: ${timestamp}`)
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`
}
