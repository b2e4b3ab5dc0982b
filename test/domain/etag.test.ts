import t from 'tap'
import { etagListMatches, etagOf } from '../../src/domain/etag.js'

t.test('the ETag is the quoted version', async (t) => {
  t.equal(etagOf(1), '"1"')
  t.equal(etagOf(42), '"42"')
})

t.test('If-Match / If-None-Match lists', async (t) => {
  t.ok(etagListMatches('"3"', 3))
  t.ok(etagListMatches('*', 3))
  t.ok(etagListMatches('"1", "3"', 3), 'one of several')
  t.ok(etagListMatches('"1",W/"3"', 3), 'a weak tag, as a compressing proxy leaves it')
  t.notOk(etagListMatches('"2"', 3), 'a stale tag')
  t.notOk(etagListMatches('3', 3), 'an unquoted tag')
  t.notOk(etagListMatches('"33"', 3), 'a tag that only starts with the version')
  t.notOk(etagListMatches('', 3), 'an empty header')
})
