import t from 'tap'
import { findUnstorableString, isUnstorableString } from '../../src/domain/text.js'

t.test('NUL and lone surrogates cannot be stored; other Unicode can', async (t) => {
  t.ok(isUnstorableString('a\u0000b'))
  t.ok(isUnstorableString('\ud800'), 'lone high surrogate')
  t.ok(isUnstorableString('x\udc00'), 'lone low surrogate')
  t.notOk(isUnstorableString(''))
  t.notOk(isUnstorableString('Amazon arrête les livraisons — Яндекс 😀'), 'accents, Cyrillic and a paired surrogate')
})

t.test('the pointer of the first unstorable string, keys included, escaped as RFC 6901', async (t) => {
  t.equal(findUnstorableString({ name: 'ok', sources: [{ url: 'https://a' }, { title: 'x\u0000' }] }), '/sources/1/title')
  t.equal(findUnstorableString({ 'a/b~c': '\ud800' }), '/a~1b~0c')
  t.equal(findUnstorableString({ nested: { '\u0000key': 1 } }), '/nested/\u0000key', 'an unstorable key is reported')
  t.equal(findUnstorableString('\u0000'), '', 'a top-level string')
  t.equal(findUnstorableString([1, true, null, 'fine', { a: ['b'] }]), undefined)
  t.equal(findUnstorableString(42), undefined)
})

t.test('nesting deeper than the call stack is searched, and the pointer still found', async (t) => {
  const depth = 20_000
  const deep = JSON.parse(`${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}`) as unknown
  t.equal(findUnstorableString(deep), '/0'.repeat(depth))
  t.equal(findUnstorableString(JSON.parse(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`)), undefined)
})
