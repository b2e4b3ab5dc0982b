import t from 'tap'
import { currentEventShape } from '../../src/domain/snapshots.js'

t.test('an event recorded before the provenance fields gets them, as null and as a count', async (t) => {
  const old = { id: 'e', sources: [{ url: 'https://example.com/a', quote: null }, { url: 'https://example.com/b', quote: 'q' }] }
  t.same(currentEventShape(old), {
    id: 'e',
    sources: [
      { kind: null, archived_url: null, license: null, url: 'https://example.com/a', quote: null },
      { kind: null, archived_url: null, license: null, url: 'https://example.com/b', quote: 'q' }
    ],
    source_count: 2
  })
})

t.test('a current snapshot stays as it is', async (t) => {
  const current = { id: 'e', sources: [{ url: 'https://example.com/a', kind: 'dataset', archived_url: null, license: 'CC BY 4.0' }], source_count: 1 }
  t.same(currentEventShape(current), current)
})
