import { createHash } from 'node:crypto'
import { eq } from 'drizzle-orm'
import t from 'tap'
import type { App } from '../../src/app.js'
import { apiKeys } from '../../src/db/schema.js'
import { toRfc3339 } from '../../src/domain/time.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

interface Write { what: string, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown> }

/** One write of each kind, each on its own fresh rows, so that an allowed write never spoils the next one. */
async function writes (app: App): Promise<Write[]> {
  const company = await createCompany(app)
  const lonely = await createCompany(app)
  const event = await createEvent(app, { company_id: company.id })
  const doomed = await createEvent(app, { company_id: company.id })
  return [
    { what: 'create event', method: 'POST', url: '/v1/events', payload: { company_id: company.id, region: 'RU', service: 'Retail', action: 'exit', date: '2022-03-08', sources: [{ url: 'https://example.com/auth' }] } },
    { what: 'update event', method: 'PATCH', url: `/v1/events/${event.id}`, payload: { summary: 'changed' } },
    { what: 'delete event', method: 'DELETE', url: `/v1/events/${doomed.id}` },
    { what: 'create company', method: 'POST', url: '/v1/companies', payload: { name: 'Created' } },
    { what: 'update company', method: 'PATCH', url: `/v1/companies/${company.id}`, payload: { sector: 'Retail' } },
    { what: 'delete company', method: 'DELETE', url: `/v1/companies/${lonely.id}` }
  ]
}

const send = (app: App, w: Write, headers: Record<string, string> = {}) =>
  app.inject({ method: w.method, url: w.url, headers, ...(w.payload ? { payload: w.payload } : {}) })

t.test('writes without a usable key are 401 with a Bearer challenge, and change nothing', async (t) => {
  const app = await buildTestApp(t)
  const { authorization } = await authHeader(app, ['read', 'write'], 'soon-revoked')
  const valid = authorization.slice('Bearer '.length)
  await app.services.apiKeys.revoke('soon-revoked')
  const { authorization: live } = await authHeader(app)
  const liveKey = live.slice('Bearer '.length)
  const nearMiss = liveKey.slice(0, -1) + (liveKey.endsWith('A') ? 'B' : 'A')
  const credentials: Record<string, string | undefined> = {
    'no key': undefined,
    'unknown key': `Bearer ${valid.slice(0, 4)}${'A'.repeat(valid.length - 4)}`,
    'near-miss key (last character changed)': `Bearer ${nearMiss}`,
    'revoked key': `Bearer ${valid}`,
    'key without Bearer': liveKey,
    'Basic scheme': `Basic ${Buffer.from(`user:${liveKey}`).toString('base64')}`,
    'empty Bearer': 'Bearer ',
    'key with a prefix of the live key': `Bearer ${liveKey.slice(0, 12)}`
  }
  for (const w of await writes(app)) {
    for (const [why, authorizationHeader] of Object.entries(credentials)) {
      const res = await send(app, w, authorizationHeader === undefined ? {} : { authorization: authorizationHeader })
      t.equal(res.statusCode, 401, `${w.what}, ${why}`)
      t.match(res.headers['www-authenticate'], /^Bearer\b/, `${w.what}, ${why}: challenge`)
      t.match(res.headers['content-type'], /^application\/problem\+json/)
      t.match(res.json(), { type: '/problems/unauthorized', status: 401 })
    }
  }
  const companies = (await app.inject({ url: '/v1/companies' })).json().data
  t.equal(companies.length, 2, 'no company was created or deleted')
  t.notOk(companies.some((c: { sector: string | null }) => c.sector !== null), 'no company was updated')
  t.equal((await app.inject({ url: '/v1/events' })).json().data.length, 2, 'no event was created or deleted')

  // The key is checked before the body is read: an anonymous bad body is a 401, not a 400.
  const res = await app.inject({ method: 'POST', url: '/v1/events', headers: { 'content-type': 'application/json' }, payload: '{not json' })
  t.equal(res.statusCode, 401, 'an anonymous malformed body')

  // Reads are public by default.
  const event = await createEvent(app)
  for (const url of ['/v1/events', `/v1/events/${event.id}`, '/v1/companies', `/v1/companies/${event.company_id}`, '/v1/regions']) {
    t.equal((await app.inject({ url })).statusCode, 200, `${url} without a key`)
  }
})

t.test('a read key cannot write (403 problem); write and admin keys can', async (t) => {
  const app = await buildTestApp(t)
  const readOnly = await authHeader(app, ['read'])
  for (const w of await writes(app)) {
    const res = await send(app, w, readOnly)
    t.equal(res.statusCode, 403, w.what)
    t.match(res.headers['content-type'], /^application\/problem\+json/)
    t.match(res.json(), { type: '/problems/forbidden', status: 403, detail: /write/ })
  }
  t.equal((await app.inject({ url: '/v1/events' })).json().data.length, 2, 'nothing changed')

  for (const scopes of [['write'], ['read', 'write'], ['admin']] as const) {
    const headers = await authHeader(app, [...scopes])
    for (const w of await writes(app)) {
      const res = await send(app, w, headers)
      t.equal(res.statusCode, { POST: 201, PATCH: 200, DELETE: 204 }[w.method], `${scopes.join('+')} key, ${w.what}`)
    }
  }
})

t.test('READ_REQUIRES_KEY=true: reads need a key, any scope will do', async (t) => {
  const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
  const event = await createEvent(app)
  const read = await authHeader(app, ['read'])
  const write = await authHeader(app, ['write'])
  for (const url of ['/v1/events', `/v1/events/${event.id}`, '/v1/companies', `/v1/companies/${event.company_id}`, '/v1/regions']) {
    const anonymous = await app.inject({ url })
    t.equal(anonymous.statusCode, 401, `${url} without a key`)
    t.match(anonymous.headers['www-authenticate'], /^Bearer\b/)
    t.equal((await app.inject({ url, headers: { authorization: 'Bearer mxk_unknown' } })).statusCode, 401, `${url} with an unknown key`)
    t.equal((await app.inject({ url, headers: read })).statusCode, 200, `${url} with a read key`)
    t.equal((await app.inject({ url, headers: write })).statusCode, 200, `${url} with a write key`)
  }
  for (const url of ['/healthz', '/readyz', '/openapi.json', '/problems/unauthorized']) {
    t.equal((await app.inject({ url })).statusCode, 200, `${url} stays public`)
  }
})

t.test('keys are long random secrets; only their SHA-256 hash is stored; use is recorded; revocation is immediate', async (t) => {
  const app = await buildTestApp(t)
  const created = await Promise.all([...Array(20).keys()].map((i) => app.services.apiKeys.create(`entropy-${i}`, ['read', 'write'])))
  const keys = created.map((c) => c.key)
  t.equal(new Set(keys).size, keys.length, 'every key differs')
  for (const key of keys) {
    t.match(key, /^[a-z]+_[A-Za-z0-9_-]+$/, 'a URL-safe token with a short prefix')
    const secret = key.slice(key.indexOf('_') + 1)
    t.ok(Buffer.from(secret, 'base64url').length >= 16, 'at least 128 bits after the prefix')
  }

  const { key, id } = created[0]!
  const [row] = await app.db.select().from(apiKeys).where(eq(apiKeys.id, id))
  t.ok(row)
  t.equal(row!.keyHash, createHash('sha256').update(key).digest('hex'), 'the SHA-256 hash of the key')
  const stored = JSON.stringify(row)
  t.notOk(stored.includes(key), 'the key itself is not stored')
  t.notOk(stored.includes(key.slice(-20)), 'nor its secret tail')
  t.equal(row!.lastUsedAt, null, 'not used yet')

  const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: { authorization: `Bearer ${key}` }, payload: { name: 'Used' } })
  t.equal(res.statusCode, 201)
  const [used] = await app.db.select().from(apiKeys).where(eq(apiKeys.id, id))
  t.ok(used!.lastUsedAt, 'last_used_at is set')
  t.ok(Math.abs(Date.parse(toRfc3339(used!.lastUsedAt!)) - Date.now()) < 60_000, 'just now')
  const [other] = await app.db.select().from(apiKeys).where(eq(apiKeys.id, created[1]!.id))
  t.equal(other!.lastUsedAt, null, 'other keys are untouched')

  // A revoked key stops working at once; its name can be reused.
  const headers = await authHeader(app, ['write'], 'ci')
  const before = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Before' } })
  t.equal(before.statusCode, 201)
  await app.services.apiKeys.revoke('ci')
  const after = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'After' } })
  t.equal(after.statusCode, 401)
  const renewed = await authHeader(app, ['write'], 'ci')
  t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: renewed, payload: { name: 'Renewed' } })).statusCode, 201)
  t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Old' } })).statusCode, 401, 'the old key stays revoked')
})
