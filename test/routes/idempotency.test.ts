import { sql } from 'drizzle-orm'
import t from 'tap'
import type { App } from '../../src/app.js'
import { queryRows } from '../../src/db/client.js'
import { authHeader, buildTestApp, createCompany } from '../helper.js'

async function countCompanies (app: App, name: string): Promise<number> {
  const [row] = await queryRows<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM companies WHERE name = ${name}`)
  return row!.n
}

function postCompany (app: App, headers: Record<string, string>, key: string | undefined, payload: object) {
  return app.inject({ method: 'POST', url: '/v1/companies', headers: { ...headers, ...(key === undefined ? {} : { 'idempotency-key': key }) }, payload })
}

t.test('a repeat with the same key and body replays the first response and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const first = await postCompany(app, headers, 'key-1', { name: 'Once Ltd', country: 'FR' })
  t.equal(first.statusCode, 201)
  t.notOk(first.headers['idempotent-replayed'])
  // Same body, keys in another order and other whitespace.
  const again = await app.inject({
    method: 'POST',
    url: '/v1/companies',
    headers: { ...headers, 'idempotency-key': 'key-1', 'content-type': 'application/json' },
    payload: '{ "country": "FR",\n "name": "Once Ltd" }'
  })
  t.equal(again.statusCode, 201)
  t.equal(again.headers['idempotent-replayed'], 'true')
  t.equal(again.body, first.body, 'the same body')
  t.equal(again.headers.location, first.headers.location)
  t.equal(again.headers.etag, first.headers.etag)
  t.not(again.headers['x-request-id'], first.headers['x-request-id'], 'a request id of its own')
  t.equal(await countCompanies(app, 'Once Ltd'), 1)
  const [history] = await queryRows<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM revisions WHERE resource_id = ${first.json().id}`)
  t.equal(history!.n, 1, 'one history row')

  const other = await postCompany(app, headers, 'key-2', { name: 'Once Ltd', country: 'FR' })
  t.equal(other.statusCode, 201, 'another key is another request')
  t.not(other.json().id, first.json().id)
  t.equal(await countCompanies(app, 'Once Ltd'), 2)
})

t.test('the same key with another body or path is a 422 problem', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  t.equal((await postCompany(app, headers, 'k', { name: 'First' })).statusCode, 201)
  const changed = await postCompany(app, headers, 'k', { name: 'Second' })
  t.equal(changed.statusCode, 422)
  t.match(changed.headers['content-type'], /^application\/problem\+json/)
  t.match(changed.json(), { type: '/problems/idempotency-key-reused', status: 422, code: 'APP_IDEMPOTENCY_KEY_REUSED' })
  const company = await createCompany(app)
  const otherPath = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { ...headers, 'idempotency-key': 'k' },
    payload: { company_id: company.id, region: 'RU', service: 'All', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://example.com/x' }] }
  })
  t.equal(otherPath.statusCode, 422)
  t.equal(await countCompanies(app, 'Second'), 0)
  const explained = await app.inject({ url: '/problems/idempotency-key-reused' })
  t.equal(explained.statusCode, 200)
})

t.test('keys belong to the API key that sent them', async (t) => {
  const app = await buildTestApp(t)
  const alice = await authHeader(app)
  const bob = await authHeader(app)
  const a = await postCompany(app, alice, 'shared', { name: 'Alice Co' })
  const b = await postCompany(app, bob, 'shared', { name: 'Bob Co' })
  t.equal(a.statusCode, 201)
  t.equal(b.statusCode, 201, 'the other key\'s request runs, no 422')
  t.not(b.headers['idempotent-replayed'], 'true')
})

t.test('a request that fails stores nothing and can be retried', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const lei = '529900T8BM49AURSDO55'
  const holder = await createCompany(app, { name: 'Holder', lei })
  const conflict = await postCompany(app, headers, 'retry-me', { name: 'Claimant', lei })
  t.equal(conflict.statusCode, 409)
  await app.inject({ method: 'DELETE', url: `/v1/companies/${holder.id}`, headers })
  const retried = await postCompany(app, headers, 'retry-me', { name: 'Claimant', lei })
  t.equal(retried.statusCode, 201, 'the retry runs')
  t.not(retried.headers['idempotent-replayed'], 'true')
})

t.test('the write and its stored response commit together', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  await app.db.execute(sql`CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$`)
  await app.db.execute(sql`CREATE TRIGGER test_refuse BEFORE INSERT ON idempotency_keys FOR EACH ROW EXECUTE FUNCTION test_refuse()`)
  const res = await postCompany(app, headers, 'atomic', { name: 'Never Stored' })
  t.equal(res.statusCode, 500, 'storing the response failed')
  t.equal(await countCompanies(app, 'Never Stored'), 0, 'so the write did not happen either')
})

t.test('concurrent requests with one key execute once', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const CONCURRENT = 20
  const responses = await Promise.all(Array.from({ length: CONCURRENT }, () => postCompany(app, headers, 'race', { name: 'Raced Co' })))
  t.same(responses.map((r) => r.statusCode), Array(CONCURRENT).fill(201))
  t.equal(new Set(responses.map((r) => r.json().id)).size, 1, 'one company id in every answer')
  t.equal(responses.filter((r) => r.headers['idempotent-replayed'] !== 'true').length, 1, 'one execution, the rest replays')
  t.equal(await countCompanies(app, 'Raced Co'), 1)

  const distinct = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => postCompany(app, headers, `race-${i}`, { name: 'Many Co' })))
  t.same(distinct.map((r) => r.statusCode), Array(CONCURRENT).fill(201))
  t.equal(await countCompanies(app, 'Many Co'), CONCURRENT, 'distinct keys all execute')
})

t.test('after 24 hours a key is forgotten', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  t.equal((await postCompany(app, headers, 'old', { name: 'Old Co' })).statusCode, 201)
  await app.db.execute(sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`)
  const later = await postCompany(app, headers, 'old', { name: 'Other Co' })
  t.equal(later.statusCode, 201, 'an expired key is a new request')
  t.equal(await countCompanies(app, 'Other Co'), 1)
  await app.db.execute(sql`UPDATE idempotency_keys SET created_at = now() - interval '25 hours'`)
  t.equal(await app.services.idempotency.purgeExpired(), 1)
  const [left] = await queryRows<{ n: number }>(app.db, sql`SELECT count(*)::int AS n FROM idempotency_keys`)
  t.equal(left!.n, 0)
})

t.test('a malformed key is a 400 naming the header', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  for (const key of ['', 'x'.repeat(256), 'with space', 'clé']) {
    const res = await postCompany(app, headers, key, { name: 'Bad Key Co' })
    t.equal(res.statusCode, 400, JSON.stringify(key))
    t.match(res.json().errors, [{ in: 'headers', pointer: '/idempotency-key' }])
  }
  t.equal(await countCompanies(app, 'Bad Key Co'), 0)
})

t.test('every POST that writes documents the header and the 422', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const document = app.swagger() as unknown as { paths: Record<string, Record<string, { parameters?: { name: string, in: string }[], responses: Record<string, unknown>, security?: unknown[] }>> }
  const posts = Object.entries(document.paths).flatMap(([path, item]) => item.post ? [[path, item.post] as const] : [])
  t.ok(posts.length >= 2)
  for (const [path, operation] of posts) {
    const writes = JSON.stringify(operation.security) === JSON.stringify([{ bearerAuth: [] }])
    // Creating an API key answers a secret, which is never stored, so it is never replayed. An import's body is a
    // stream applied as it arrives, which cannot be fingerprinted first; its external_ids make a repeat harmless.
    if (!writes || path === '/v1/api-keys' || path === '/v1/imports') continue
    t.ok(operation.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key'), `${path} documents Idempotency-Key`)
    t.ok(operation.responses['422'], `${path} documents 422`)
  }
})

t.test('an import ignores Idempotency-Key: a repeat runs again and its external_ids keep it harmless', async (t) => {
  const app = await buildTestApp(t)
  const headers = { ...(await authHeader(app)), 'content-type': 'application/x-ndjson', 'idempotency-key': 'import-1' }
  const company = await createCompany(app)
  const payload = JSON.stringify({
    company_id: company.id, region: 'RU', service: 'All', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://a.example/1' }], external_id: 'i-1'
  })
  const first = await app.inject({ method: 'POST', url: '/v1/imports', headers, payload })
  const again = await app.inject({ method: 'POST', url: '/v1/imports', headers, payload })
  t.equal(first.statusCode, 202)
  t.equal(again.statusCode, 202)
  t.notOk(again.headers['idempotent-replayed'])
  t.not(again.json().id, first.json().id)
  t.match((await app.inject({ url: `/v1/imports/${again.json().id}` })).json(), { counts: { created: 0, unchanged: 1 } })
})

t.test('a body nested thousands of levels deep, sent to a POST that takes none, is fingerprinted without overflowing', async (t) => {
  const app = await buildTestApp(t)
  const headers = { ...await authHeader(app), 'idempotency-key': 'deep', 'content-type': 'application/json' }
  const company = await createCompany(app)
  await app.services.companies.remove(company.id, undefined, { apiKeyId: null, reason: null })
  const payload = `{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`
  const res = await app.inject({ method: 'POST', url: `/v1/companies/${company.id}/restore`, headers, payload })
  t.equal(res.statusCode, 200)
  const again = await app.inject({ method: 'POST', url: `/v1/companies/${company.id}/restore`, headers, payload })
  t.equal(again.headers['idempotent-replayed'], 'true', 'a repeat is the same request')
})
