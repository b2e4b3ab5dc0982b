import t from 'tap'
import { normaliseSourceUrl } from '../../src/domain/urls.js'

t.test('a source URL is normalised: scheme and host lower-cased, default port and fragment dropped', async (t) => {
  t.equal(normaliseSourceUrl('HTTPS://Example.COM:443/News/A?Q=1#Section'), 'https://example.com/News/A?Q=1')
  t.equal(normaliseSourceUrl('http://example.com:80'), 'http://example.com/')
  t.equal(normaliseSourceUrl('http://example.com:8080/x#'), 'http://example.com:8080/x', 'an empty fragment goes too')
  t.equal(normaliseSourceUrl('https://example.com/a'), normaliseSourceUrl('https://EXAMPLE.com/a#top'), 'the same document is one key')
  t.not(normaliseSourceUrl('https://example.com/A'), normaliseSourceUrl('https://example.com/a'), 'the path keeps its case')
})
