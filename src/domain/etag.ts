/** The strong ETag of a resource version. */
export function etagOf (version: number): string {
  return `"${version}"`
}

/**
 * True when an If-Match or If-None-Match header value names this version: `*` or a listed tag.
 * Weak prefixes are tolerated, since proxies that compress a response may weaken its ETag.
 */
export function etagListMatches (header: string, version: number): boolean {
  const tags = header.split(',').map((tag) => tag.trim().replace(/^W\//, ''))
  return tags.includes('*') || tags.includes(etagOf(version))
}
