import t from 'tap'
import { decodeCursor, encodeCursor, queryFingerprint } from '../../src/domain/cursor.js'

const key = ['2022-03-08', '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e']

t.test('a cursor round-trips with its own query', async (t) => {
  const f = queryFingerprint({ region: 'RU', sort: '-date' })
  const cursor = encodeCursor(f, key)
  t.match(cursor, /^[A-Za-z0-9_-]+$/, 'URL-safe')
  t.same(decodeCursor(cursor, f), key)
  const composite = ['RU', 'Retail shipping', '2022-03-08', '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e']
  t.same(decodeCursor(encodeCursor(f, composite), f), composite, 'a key of several sort values')
  t.same(decodeCursor(encodeCursor(f, ['Ünïcødé — Яндекс']), f), ['Ünïcødé — Яндекс'], 'non-ASCII values survive')
})

t.test('the fingerprint ignores page size, cursor, undefined values and key order', async (t) => {
  const f = queryFingerprint({ region: 'RU', action: 'exit' })
  t.equal(queryFingerprint({ action: 'exit', region: 'RU' }), f)
  t.equal(queryFingerprint({ region: 'RU', action: 'exit', limit: 10, cursor: 'abc', q: undefined }), f)
  t.not(queryFingerprint({ region: 'BY', action: 'exit' }), f, 'another filter value')
  t.not(queryFingerprint({ region: 'RU', action: 'exit', sort: 'date' }), f, 'another sort')
  t.not(queryFingerprint({ region: 'RU' }), f, 'a filter fewer')
})

t.test('a cursor from another query is refused', async (t) => {
  const cursor = encodeCursor(queryFingerprint({ region: 'RU' }), key)
  t.equal(decodeCursor(cursor, queryFingerprint({ region: 'BY' })), 'other-query')
})

t.test('malformed cursors are refused, never thrown', async (t) => {
  const f = queryFingerprint({})
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
  const bad = {
    garbage: '!!!',
    'not JSON': b64('hello'),
    'JSON null': b64(null),
    'a number': b64(5),
    'wrong version': b64({ v: 2, f, k: key }),
    'no fingerprint': b64({ v: 1, k: key }),
    'key not an array': b64({ v: 1, f, k: 'x' }),
    'empty key': b64({ v: 1, f, k: [] }),
    'key of nine values': b64({ v: 1, f, k: [...Array(9).keys()].map(String) }),
    'key of numbers': b64({ v: 1, f, k: [1, 2] }),
    'key with a null': b64({ v: 1, f, k: ['2022-03-08', null] })
  }
  for (const [why, cursor] of Object.entries(bad)) t.equal(decodeCursor(cursor, f), 'malformed', why)
})
