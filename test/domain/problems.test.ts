import t from 'tap'
import { problemKindBySlug, problemKindOf, problemKinds } from '../../src/domain/problems.js'

t.test('every status of the contract has its own kind', async (t) => {
  const expected: Record<number, string> = {
    400: 'validation-error',
    401: 'unauthorized',
    403: 'forbidden',
    404: 'not-found',
    409: 'conflict',
    412: 'precondition-failed',
    413: 'payload-too-large',
    415: 'unsupported-media-type',
    429: 'rate-limited',
    500: 'internal-error',
    503: 'service-unavailable'
  }
  for (const [status, slug] of Object.entries(expected)) {
    const kind = problemKindOf(Number(status))
    t.equal(kind.slug, slug, `status ${status}`)
    t.ok(kind.title.length > 0 && kind.explanation.length > 20, `${slug} is explained`)
  }
  t.equal(problemKindOf(500).title, 'Internal Server Error')
})

t.test('slugs are unique and URL-safe', async (t) => {
  const slugs = Object.values(problemKinds).map((k) => k.slug)
  t.equal(new Set(slugs).size, slugs.length)
  for (const slug of slugs) t.match(slug, /^[a-z]+(-[a-z]+)*$/)
})

t.test('other statuses fall back to a generic kind', async (t) => {
  t.match(problemKindOf(418), { slug: 'client-error', title: "I'm a Teapot" })
  t.match(problemKindOf(451), { slug: 'client-error', title: 'Unavailable For Legal Reasons' })
  t.match(problemKindOf(499), { slug: 'client-error', title: 'Client error' }, 'a status without a name')
  t.equal(problemKindOf(502).slug, 'internal-error', 'any 5xx is an internal error')
})

t.test('slugs resolve back to their kind', async (t) => {
  for (const kind of Object.values(problemKinds)) t.equal(problemKindBySlug(kind.slug), kind)
  t.equal(problemKindBySlug('client-error')?.title, 'Client error')
  t.equal(problemKindBySlug('nonsense'), undefined)
  t.equal(problemKindBySlug(''), undefined)
})
