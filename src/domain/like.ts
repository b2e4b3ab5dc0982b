/** Escapes LIKE wildcards so that user text matches literally (the escape character is the default backslash). */
export function escapeLike (text: string): string {
  return text.replace(/[\\%_]/g, (ch) => `\\${ch}`)
}
