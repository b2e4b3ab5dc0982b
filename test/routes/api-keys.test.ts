import { randomUUID } from 'node:crypto'
import t from 'tap'
import { authHeader, buildTestApp, createEvent } from '../helper.js'

t.test('an admin key creates a key, whose secret is shown once, then gets and lists it without the secret', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const created = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: '  partner-sync ', scopes: ['read', 'write'] } })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, { name: 'partner-sync', scopes: ['read', 'write'], last_used_at: null, revoked_at: null, key: /^mxk_[A-Za-z0-9_-]{43}$/ })
  t.equal(body.prefix, body.key.slice(0, 10), 'the prefix is the start of the secret')
  t.equal(created.headers.location, `/v1/api-keys/${body.id}`)
  t.match(created.headers['ratelimit-limit'], /^\d+$/, 'admin routes are rate-limited too')

  // The new key works, and its use is recorded.
  t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: { authorization: `Bearer ${body.key}` }, payload: { name: 'Acme' } })).statusCode, 201)
  const fetched = await app.inject({ url: `/v1/api-keys/${body.id}`, headers: admin })
  t.equal(fetched.statusCode, 200)
  const { key, ...withoutSecret } = body
  t.same({ ...fetched.json(), last_used_at: null }, withoutSecret, 'the same fields, without the secret')
  t.match(fetched.json().last_used_at, /^\d{4}-\d{2}-\d{2}T/, 'last use is recorded')

  const list = await app.inject({ url: '/v1/api-keys', headers: admin })
  t.equal(list.statusCode, 200)
  t.equal(list.json().data.length, 2, 'the admin key and the new one')
  t.notOk(list.body.includes(key), 'the secret is never listed')
  t.notOk(/key_hash|"key"/.test(list.body + fetched.body), 'neither the secret nor its hash')
})

t.test('a revoked key gets 401 on the very next request, even when it revoked itself', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const other = (await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'other', scopes: ['read', 'write'] } })).json()
  const otherAuth = { authorization: `Bearer ${other.key}` }
  t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: otherAuth, payload: { name: 'Before' } })).statusCode, 201)

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${other.id}`, headers: admin })).statusCode, 204)
  const after = await app.inject({ method: 'POST', url: '/v1/companies', headers: otherAuth, payload: { name: 'After' } })
  t.equal(after.statusCode, 401, 'refused at once: keys are checked against the database on every request')
  t.match(after.json(), { type: '/problems/unauthorized' })
  t.equal((await app.inject({ url: '/v1/events', headers: otherAuth })).statusCode, 401, 'a revoked key is refused on public reads too')
  t.match((await app.inject({ url: `/v1/api-keys/${other.id}`, headers: admin })).json(), { id: other.id, revoked_at: /^\d{4}-/ })

  const again = await app.inject({ method: 'DELETE', url: `/v1/api-keys/${other.id}`, headers: admin })
  t.equal(again.statusCode, 404, 'revoking twice is a 404')
  t.match(again.json(), { type: '/problems/not-found', code: 'APP_API_KEY_NOT_FOUND' })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${randomUUID()}`, headers: admin })).statusCode, 404, 'an unknown id')

  const adminId = (await app.inject({ url: '/v1/api-keys?revoked=false', headers: admin })).json().data[0].id
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/api-keys/${adminId}`, headers: admin })).statusCode, 204, 'a key may revoke itself')
  t.equal((await app.inject({ url: '/v1/api-keys', headers: admin })).statusCode, 401, 'and is refused right after')
})

t.test('key management needs the admin scope: no key 401, a read or write key 403', async (t) => {
  const app = await buildTestApp(t)
  const id = randomUUID()
  const routes = [
    { method: 'POST' as const, url: '/v1/api-keys', payload: { name: 'x', scopes: ['read'] } },
    { method: 'GET' as const, url: '/v1/api-keys' },
    { method: 'GET' as const, url: `/v1/api-keys/${id}` },
    { method: 'DELETE' as const, url: `/v1/api-keys/${id}` }
  ]
  const read = await authHeader(app, ['read'])
  const write = await authHeader(app, ['read', 'write'])
  for (const route of routes) {
    const anonymous = await app.inject(route)
    t.equal(anonymous.statusCode, 401, `${route.method} ${route.url} without a key`)
    t.match(anonymous.headers['www-authenticate'], /^Bearer/)
    for (const [name, headers] of Object.entries({ read, write })) {
      const res = await app.inject({ ...route, headers })
      t.equal(res.statusCode, 403, `${route.method} ${route.url} with a ${name} key`)
      t.match(res.json(), { type: '/problems/forbidden', detail: /admin/ })
    }
  }
  t.equal((await app.inject({ url: '/v1/api-keys', headers: await authHeader(app, ['read', 'write', 'admin']) })).statusCode, 200)
})

t.test('creating keys is validated; names are unique among active keys only', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const create = (payload: unknown) => app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: payload as object })
  for (const [why, payload, pointer] of [
    ['no scopes', { name: 'a', scopes: [] }, '/scopes'],
    ['an unknown scope', { name: 'a', scopes: ['superuser'] }, '/scopes/0'],
    ['a repeated scope', { name: 'a', scopes: ['read', 'read'] }, '/scopes'],
    ['a blank name', { name: '   ', scopes: ['read'] }, '/name'],
    ['a server-owned field', { name: 'a', scopes: ['read'], prefix: 'mxk_' }, '/prefix'],
    ['no name', { scopes: ['read'] }, '/name']
  ] as const) {
    const res = await create(payload)
    t.equal(res.statusCode, 400, why)
    t.match(res.json().errors, [{ in: 'body', pointer }], why)
  }
  t.equal((await create({ name: 'dup', scopes: ['read'] })).statusCode, 201)
  const conflict = await create({ name: 'dup', scopes: ['write'] })
  t.equal(conflict.statusCode, 409)
  t.match(conflict.json(), { type: '/problems/conflict', code: 'APP_API_KEY_CONFLICT' })
  const dup = (await app.inject({ url: '/v1/api-keys?revoked=false', headers: admin })).json().data.find((k: { name: string }) => k.name === 'dup')
  await app.inject({ method: 'DELETE', url: `/v1/api-keys/${dup.id}`, headers: admin })
  t.equal((await create({ name: 'dup', scopes: ['write'] })).statusCode, 201, 'the name of a revoked key can be used again')
  t.equal((await app.inject({ url: '/v1/api-keys/not-a-uuid', headers: admin })).statusCode, 400)
  t.equal((await app.inject({ url: `/v1/api-keys/${randomUUID()}`, headers: admin })).statusCode, 404)
  t.equal((await app.inject({ url: '/v1/api-keys?scope=admin', headers: admin })).statusCode, 400, 'an unknown query parameter')
})

t.test('the list pages through keys in creation order and filters revoked or active ones', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'], 'admin')
  const names = ['admin']
  for (let i = 0; i < 6; i++) {
    const name = `key-${i}`
    const { id } = (await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name, scopes: ['read'] } })).json()
    names.push(name)
    if (i % 2 === 0) await app.inject({ method: 'DELETE', url: `/v1/api-keys/${id}`, headers: admin })
  }
  const walk = async (query: string) => {
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const res: { statusCode: number, json: () => unknown } = await app.inject({ url: `/v1/api-keys?limit=2${query}${cursor ? `&cursor=${cursor}` : ''}`, headers: admin })
      t.equal(res.statusCode, 200)
      const page = res.json() as { data: Array<{ name: string }>, next_cursor: string | null }
      t.ok(page.data.length <= 2)
      seen.push(...page.data.map((k) => k.name))
      cursor = page.next_cursor
    } while (cursor !== null)
    return seen
  }
  t.same(await walk(''), names, 'every key once, oldest first')
  t.same(await walk('&revoked=true'), ['key-0', 'key-2', 'key-4'])
  t.same(await walk('&revoked=false'), ['admin', 'key-1', 'key-3', 'key-5'])
  const first = (await app.inject({ url: '/v1/api-keys?limit=2', headers: admin })).json()
  const misuse = await app.inject({ url: `/v1/api-keys?limit=2&revoked=true&cursor=${first.next_cursor}`, headers: admin })
  t.equal(misuse.statusCode, 400, 'a cursor is bound to its filter')
})

t.test('a key sent to a public read is checked: an unknown one is a 401, a valid one of any scope reads', async (t) => {
  const app = await buildTestApp(t)
  const event = await createEvent(app)
  t.equal((await app.inject({ url: `/v1/events/${event.id}`, headers: { authorization: 'Bearer mxk_unknown' } })).statusCode, 401)
  for (const scopes of [['read'], ['write'], ['admin']] as const) {
    t.equal((await app.inject({ url: `/v1/events/${event.id}`, headers: await authHeader(app, [...scopes]) })).statusCode, 200, scopes.join())
  }
  t.equal((await app.inject({ url: `/v1/events/${event.id}` })).statusCode, 200, 'without a key')
})
