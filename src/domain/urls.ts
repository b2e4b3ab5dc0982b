/** True for an absolute http(s) URL with a host. */
export function isHttpUrl (value: string): boolean {
  if (!URL.canParse(value)) return false
  const url = new URL(value)
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
}

/**
 * The key under which a source is stored once: WHATWG parsing lower-cases the scheme and host
 * (and drops a default port); the fragment never reaches the server, so it does not name another document.
 */
export function normaliseSourceUrl (value: string): string {
  const url = new URL(value)
  url.hash = ''
  return url.href
}
