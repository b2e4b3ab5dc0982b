import t from 'tap'
import { buildTestApp } from '../helper.js'

t.test('every response carries the security headers, problems included', async (t) => {
  const app = await buildTestApp(t)
  const responses = {
    'a read': await app.inject({ url: '/v1/regions' }),
    'a 404 problem': await app.inject({ url: '/v1/nowhere' }),
    'a 401 problem': await app.inject({ method: 'POST', url: '/v1/companies', payload: { name: 'Keyless Co' } }),
    'a 400 problem': await app.inject({ url: '/v1/events?limit=0x10' })
  }
  for (const [what, res] of Object.entries(responses)) {
    t.equal(res.headers['x-content-type-options'], 'nosniff', what)
    t.equal(res.headers['x-frame-options'], 'SAMEORIGIN', what)
    t.match(res.headers['content-security-policy'], /default-src 'self'/, what)
    t.match(res.headers['content-security-policy'], /frame-ancestors 'self'/, what)
    t.match(res.headers['strict-transport-security'], /max-age=\d+/, what)
    t.equal(res.headers['cross-origin-resource-policy'], 'cross-origin', `${what}: public data may be read from other origins`)
    t.equal(res.headers['x-powered-by'], undefined, what)
  }
  t.same(Object.values(responses).map((r) => r.statusCode), [200, 404, 401, 400])
})

t.test('the documentation page has a policy that lets it load its own scripts only', async (t) => {
  const app = await buildTestApp(t)
  const page = await app.inject({ url: '/docs' })
  t.equal(page.statusCode, 200)
  const policy = String(page.headers['content-security-policy'])
  t.match(policy, /script-src 'self'/)
  t.notMatch(policy, /script-src[^;]*\*/, 'no wildcard script source')
  const scripts = [...page.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!)
  t.ok(scripts.length > 0, 'the page loads scripts')
  t.ok(scripts.every((src) => !/^(https?:)?\/\//.test(src)), `every script is served from here: ${scripts.join(', ')}`)
})
