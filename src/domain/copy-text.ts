import { Transform } from 'node:stream'

/** The escapes PostgreSQL's `COPY … (FORMAT text)` writes for the characters it must not write as they are. */
const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' }
const ESCAPE = /\\(.)/gs

/** How a COPY text row writes null. */
export const COPY_NULL = '\\N'

/** One field of a COPY text row: `\N` is null, and a backslash escapes the character after it. */
export function copyField (raw: string): string | null {
  if (raw === COPY_NULL) return null
  return raw.includes('\\') ? raw.replace(ESCAPE, (_, c: string) => ESCAPES[c] ?? c) : raw
}

/** The raw fields of one COPY text row (its line without the line feed); pass each to copyField. */
export const copyRowFields = (line: string): string[] => line.split('\t')

const LINE_FEED = 0x0a

/** What a COPY text stream is turned into: the text for each row (empty while it waits for more), and at the end. */
export interface CopyRowFormat { row: (fields: string[]) => string, end: () => string }

/**
 * Turns the bytes of a `COPY … TO STDOUT (FORMAT text)` into the text `format` makes of its rows.
 * A row ends with a line feed and never holds one (it is escaped), and no byte of a multi-byte UTF-8 character is
 * a line feed: so a chunk is decoded up to its last line feed and the rest waits for the next chunk.
 */
export function copyRowsTo (format: CopyRowFormat): Transform {
  let rest: Buffer = Buffer.alloc(0)
  return new Transform({
    transform (chunk: Buffer, _encoding, done) {
      const end = chunk.lastIndexOf(LINE_FEED)
      if (end === -1) {
        rest = Buffer.concat([rest, chunk])
        return done()
      }
      const text = (rest.length === 0 ? chunk.subarray(0, end) : Buffer.concat([rest, chunk.subarray(0, end)])).toString('utf8')
      rest = Buffer.from(chunk.subarray(end + 1))
      // Encoded a row at a time: joining the rows' text first cost twice as much as making it.
      const pieces: Buffer[] = []
      for (const line of text.split('\n')) {
        const out = format.row(copyRowFields(line))
        if (out !== '') pieces.push(Buffer.from(out))
      }
      done(null, pieces.length === 0 ? undefined : Buffer.concat(pieces))
    },
    flush (done) {
      if (rest.length > 0) return done(new Error('COPY output ended inside a row'))
      const out = format.end()
      done(null, out === '' ? undefined : out)
    }
  })
}
