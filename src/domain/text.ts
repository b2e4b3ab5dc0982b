/** True for strings that Postgres cannot store faithfully: a NUL character or a lone UTF-16 surrogate. */
export function isUnstorableString (value: string): boolean {
  return value.includes('\u0000') || !value.isWellFormed()
}

/**
 * The JSON pointer of the first string (key or value) in a parsed JSON value that Postgres cannot
 * store, or undefined when every string is storable.
 */
export function findUnstorableString (value: unknown, pointer = ''): string | undefined {
  if (typeof value === 'string') return isUnstorableString(value) ? pointer : undefined
  if (value === null || typeof value !== 'object') return undefined
  const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value)
  for (const [key, item] of entries) {
    const here = `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
    if (isUnstorableString(key)) return here
    const found = findUnstorableString(item, here)
    if (found !== undefined) return found
  }
  return undefined
}
