import t from 'tap'
import { escapeLike } from '../../src/domain/like.js'

t.test('LIKE wildcards and the escape character match literally', async (t) => {
  t.equal(escapeLike('Prime Video'), 'Prime Video')
  t.equal(escapeLike('100%'), '100\\%')
  t.equal(escapeLike('new_world'), 'new\\_world')
  t.equal(escapeLike('a\\b'), 'a\\\\b')
  t.equal(escapeLike('%_\\'), '\\%\\_\\\\')
  t.equal(escapeLike(''), '')
})
