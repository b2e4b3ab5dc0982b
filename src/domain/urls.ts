/**
 * The key under which a source is stored once: WHATWG parsing lower-cases the scheme and host
 * (and drops a default port); the fragment never reaches the server, so it does not name another document.
 */
export function normaliseSourceUrl (value: string): string {
  const url = new URL(value)
  url.hash = ''
  return url.href
}
