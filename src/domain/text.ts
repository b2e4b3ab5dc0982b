/** True for strings that Postgres cannot store faithfully: a NUL character or a lone UTF-16 surrogate. */
export function isUnstorableString (value: string): boolean {
  return value.includes('\u0000') || !value.isWellFormed()
}

interface Visit { value: unknown, key?: string, parent?: Visit }

const pointerOf = (visit: Visit): string => {
  const keys: string[] = []
  for (let at: Visit | undefined = visit; at?.key !== undefined; at = at.parent) keys.push(at.key.replaceAll('~', '~0').replaceAll('/', '~1'))
  return keys.reverse().map((k) => `/${k}`).join('')
}

/**
 * The JSON pointer of the first string (key or value) in a parsed JSON value that Postgres cannot
 * store, or undefined when every string is storable.
 */
export function findUnstorableString (value: unknown): string | undefined {
  // Depth first with a stack of its own, not recursion: JSON nested thousands of levels deep must not overflow the call stack.
  const stack: Visit[] = [{ value }]
  for (let visit = stack.pop(); visit !== undefined; visit = stack.pop()) {
    if (visit.key !== undefined && isUnstorableString(visit.key)) return pointerOf(visit)
    const item = visit.value
    if (typeof item === 'string' && isUnstorableString(item)) return pointerOf(visit)
    if (item === null || typeof item !== 'object') continue
    const entries = Array.isArray(item) ? item.map((v, i) => [String(i), v] as const) : Object.entries(item)
    // Reversed, so that the first entry is visited first, as its pointer says.
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], key: entries[i]![0], parent: visit })
  }
  return undefined
}
