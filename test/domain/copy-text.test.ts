import { PassThrough, Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import t from 'tap'
import { copyField, copyRowFields, copyRowsTo } from '../../src/domain/copy-text.js'

t.test('copyField reads a field as COPY text writes it', async (t) => {
  t.equal(copyField('\\N'), null, '\\N is null')
  t.equal(copyField('\\\\N'), '\\N', 'an escaped backslash before N is text')
  t.equal(copyField('plain Ёлка'), 'plain Ёлка')
  t.equal(copyField('a\\tb\\nc\\rd\\be\\ff\\vg\\\\h'), 'a\tb\nc\rd\be\ff\vg\\h')
  t.equal(copyField('\\x'), 'x', 'any other escaped character is itself')
  t.equal(copyField(''), '', 'an empty string is not null')
})

t.test('copyRowFields splits on tabs only', async (t) => {
  t.same(copyRowFields('a\\tb\tc\t\\N\t'), ['a\\tb', 'c', '\\N', ''])
})

t.test('copyRowsTo makes one line per row, however the bytes are cut', async (t) => {
  const rows = 'Ёлка\t😀\\tx\n\\N\tb\\nc\nlast\t\n'
  const bytes = Buffer.from(rows)
  const expected = 'Ёлка|😀\tx\nnull|b\nc\nlast|\n'
  const format = { row: (fields: string[]) => fields.map((f) => copyField(f) ?? 'null').join('|') + '\n', end: () => '' }
  // Every cut, inside multi-byte characters and right after line feeds included.
  for (let cut = 0; cut <= bytes.length; cut++) {
    const chunks = [bytes.subarray(0, cut), bytes.subarray(cut)].filter((c) => c.length > 0)
    let out = ''
    for await (const piece of Readable.from(chunks).pipe(copyRowsTo(format))) out += String(piece)
    t.equal(out, expected, `cut at byte ${cut}`)
  }
  // One byte at a time.
  let out = ''
  for await (const piece of Readable.from([...bytes].map((b) => Buffer.from([b]))).pipe(copyRowsTo(format))) out += String(piece)
  t.equal(out, expected, 'a byte a time')
})

t.test('copyRowsTo ends with what the format holds back', async (t) => {
  let rows = 0
  const counted = { row: () => { rows++; return '' }, end: () => `${rows} rows` }
  let out = ''
  for await (const piece of Readable.from([Buffer.from('a\nb\n')]).pipe(copyRowsTo(counted))) out += String(piece)
  t.equal(out, '2 rows')
})

t.test('copyRowsTo fails output that stops inside a row', async (t) => {
  await t.rejects(async () => {
    await pipeline(Readable.from([Buffer.from('a\nb')]), copyRowsTo({ row: (f) => f.join(), end: () => '' }), new PassThrough().resume())
  }, /ended inside a row/)
})
