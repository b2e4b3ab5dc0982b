import { Type } from '@sinclair/typebox'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { readSecurity } from '../../src/schemas/common.js'
import { freshDatabase } from '../database.js'
import { buildTestApp, testConfig } from '../helper.js'

const Old = Type.Object({ ok: Type.Boolean() }, { additionalProperties: false, description: 'Still works.' })

t.test('a route marked deprecated says so in its headers and in the OpenAPI document', async (t) => {
  const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
  app.get('/v1/old-thing', {
    config: { scope: 'read', deprecated: { since: '2026-01-01', sunset: '2027-01-01T12:00:00Z', link: 'https://example.com/changelog#old-thing' } },
    schema: { operationId: 'getOldThing', summary: 'An old thing', tags: ['meta'], security: readSecurity, response: { 200: Old } }
  }, async () => ({ ok: true }))
  app.get('/v1/older-thing', {
    config: { scope: 'read', deprecated: { since: '2025-06-30T10:00:00+02:00' } },
    schema: { operationId: 'getOlderThing', summary: 'An older thing', tags: ['meta'], security: readSecurity, response: { 200: Old } }
  }, async () => ({ ok: true }))
  await app.ready()

  const authorization = `Bearer ${(await app.services.apiKeys.create('dep', ['read'])).key}`
  const res = await app.inject({ url: '/v1/old-thing', headers: { authorization } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.deprecation, '@1767225600', 'RFC 9745: @ and Unix seconds')
  t.equal(res.headers.sunset, 'Fri, 01 Jan 2027 12:00:00 GMT', 'RFC 8594: an HTTP-date')
  t.equal(res.headers.link, '<https://example.com/changelog#old-thing>; rel="deprecation"')
  const refused = await app.inject({ url: '/v1/old-thing' })
  t.equal(refused.statusCode, 401)
  t.equal(refused.headers.deprecation, '@1767225600', 'errors say it too')

  const older = await app.inject({ url: '/v1/older-thing', headers: { authorization } })
  t.equal(older.headers.deprecation, '@1751270400')
  t.notOk('sunset' in older.headers || 'link' in older.headers, 'no Sunset or Link when none is given')

  const current = await app.inject({ url: '/v1/regions', headers: { authorization } })
  t.notOk('deprecation' in current.headers, 'other routes are not deprecated')

  const document = app.swagger() as unknown as { paths: Record<string, Record<string, { deprecated?: boolean, responses: Record<string, { headers: Record<string, unknown> }> }>> }
  const operation = document.paths['/v1/old-thing']!.get!
  t.equal(operation.deprecated, true)
  t.same(Object.keys(operation.responses['200']!.headers).filter((h) => ['Deprecation', 'Sunset', 'Link'].includes(h)), ['Deprecation', 'Sunset', 'Link'])
  const deprecated = Object.entries(document.paths).filter(([, item]) => Object.values(item).some((op) => op.deprecated)).map(([path]) => path)
  t.same(deprecated, ['/v1/old-thing', '/v1/older-thing'], 'no current route is deprecated')
})

t.test('a deprecation with a date that is not RFC 3339 is refused when the route is declared', async (t) => {
  const { database, drop } = await freshDatabase()
  const app = await buildApp(testConfig(), { database, logger: false })
  t.teardown(async () => { await app.close(); await drop() })
  for (const since of ['01/01/2026', '2026-02-30x', 'soon']) {
    t.throws(() => app.get(`/v1/bad-${since.replace(/\W/g, '')}`, { config: { deprecated: { since } } }, async () => ({})), /not an RFC 3339 date/, since)
  }
})
