import { randomUUID } from 'node:crypto'
import t from 'tap'
import { buildApp } from '../../src/app.js'
import { freshDatabase } from '../database.js'
import { authHeader, buildTestApp, testConfig } from '../helper.js'

// A public address, so that no DNS is needed and no allow-list applies.
const PUBLIC_URL = 'https://93.184.215.14/hooks/market-exits'

t.test('an admin subscribes, gets the secret once, then lists, gets and deletes the subscription', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const created = await app.inject({
    method: 'POST',
    url: '/v1/webhooks',
    headers: admin,
    payload: { url: PUBLIC_URL, filters: { region: ['ru', 'UA-43'], action: ['exit'] } }
  })
  t.equal(created.statusCode, 201)
  const body = created.json()
  t.match(body, { url: PUBLIC_URL, filters: { region: ['RU', 'UA-43'], action: ['exit'] }, secret: /^whsec_[A-Za-z0-9_-]{43}$/ })
  t.equal(created.headers.location, `/v1/webhooks/${body.id}`)

  const own = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: PUBLIC_URL, secret: 'my-own-secret-0123456789' } })
  t.equal(own.statusCode, 201)
  t.match(own.json(), { secret: 'my-own-secret-0123456789', filters: {} }, 'a given secret is kept; no filters match everything')

  const fetched = await app.inject({ url: `/v1/webhooks/${body.id}`, headers: admin })
  t.equal(fetched.statusCode, 200)
  const { secret, ...withoutSecret } = body
  t.same(fetched.json(), withoutSecret)

  const list = await app.inject({ url: '/v1/webhooks?limit=1', headers: admin })
  t.equal(list.statusCode, 200)
  t.same(list.json().data.map((w: { id: string }) => w.id), [body.id])
  const next = await app.inject({ url: `/v1/webhooks?limit=1&cursor=${list.json().next_cursor}`, headers: admin })
  t.same(next.json(), { data: [{ ...own.json(), secret: undefined }].map(({ secret, ...w }) => w), next_cursor: null })
  t.notOk((list.body + next.body + fetched.body).includes('secret'), 'the secret is never shown again')

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: admin })).statusCode, 204)
  t.equal((await app.inject({ url: `/v1/webhooks/${body.id}`, headers: admin })).statusCode, 404, 'deleted: gone')
  const again = await app.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: admin })
  t.equal(again.statusCode, 404)
  t.match(again.json(), { type: '/problems/not-found', code: 'APP_WEBHOOK_NOT_FOUND' })
  t.equal((await app.inject({ url: `/v1/webhooks/${body.id}/deliveries`, headers: admin })).statusCode, 404)
  t.same((await app.inject({ url: '/v1/webhooks', headers: admin })).json().data.map((w: { id: string }) => w.id), [own.json().id])
})

t.test('webhook management needs the admin scope: no key 401, a read or write key 403', async (t) => {
  const app = await buildTestApp(t)
  const id = randomUUID()
  const routes = [
    { method: 'POST' as const, url: '/v1/webhooks', payload: { url: PUBLIC_URL } },
    { method: 'GET' as const, url: '/v1/webhooks' },
    { method: 'GET' as const, url: `/v1/webhooks/${id}` },
    { method: 'DELETE' as const, url: `/v1/webhooks/${id}` },
    { method: 'GET' as const, url: `/v1/webhooks/${id}/deliveries` },
    { method: 'POST' as const, url: `/v1/webhooks/${id}/deliveries/${randomUUID()}/replay` }
  ]
  const write = await authHeader(app, ['read', 'write'])
  for (const route of routes) {
    t.equal((await app.inject(route)).statusCode, 401, `${route.method} ${route.url} without a key`)
    const res = await app.inject({ ...route, headers: write })
    t.equal(res.statusCode, 403, `${route.method} ${route.url} with a write key`)
    t.match(res.json(), { type: '/problems/forbidden', detail: /admin/ })
  }
})

t.test('subscriptions are validated: 400 problems name the field', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  for (const [why, payload, pointer] of [
    ['no url', {}, '/url'],
    ['a relative url', { url: '/hooks' }, '/url'],
    ['a non-http url', { url: 'ftp://93.184.215.14/x' }, '/url'],
    ['a short secret', { url: PUBLIC_URL, secret: 'short' }, '/secret'],
    ['a secret with spaces', { url: PUBLIC_URL, secret: 'a secret with some spaces' }, '/secret'],
    ['an unknown region', { url: PUBLIC_URL, filters: { region: ['XX'] } }, '/filters/region/0'],
    ['an unknown action', { url: PUBLIC_URL, filters: { action: ['leave'] } }, '/filters/action/0'],
    ['a bad company id', { url: PUBLIC_URL, filters: { company_id: ['urn:uuid:01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'] } }, '/filters/company_id/0'],
    ['an empty filter list', { url: PUBLIC_URL, filters: { region: [] } }, '/filters/region'],
    ['an unknown filter', { url: PUBLIC_URL, filters: { sector: ['Energy'] } }, '/filters/sector'],
    ['an unknown field', { url: PUBLIC_URL, events: ['event.created'] }, '/events']
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload })
    t.equal(res.statusCode, 400, why)
    t.match(res.json(), { type: '/problems/validation-error', errors: [{ in: 'body', pointer }] }, why)
  }
  t.equal((await app.inject({ url: '/v1/webhooks/not-a-uuid', headers: admin })).statusCode, 400)
  t.equal((await app.inject({ url: '/v1/webhooks?status=failed', headers: admin })).statusCode, 400, 'an unknown query parameter')
  t.equal((await app.inject({ url: `/v1/webhooks/${randomUUID()}`, headers: admin })).statusCode, 404)
})

t.test('targets on private, loopback or link-local addresses are refused with a 422 naming /url', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  for (const url of [
    'http://127.0.0.1:8080/hook',
    'http://10.1.2.3/hook',
    'http://192.168.0.10/hook',
    'http://169.254.169.254/latest/meta-data',
    'http://[::1]/hook',
    'http://[fd00::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://0.0.0.0/hook',
    'http://localhost:3000/hook',
    'http://does-not-exist.invalid/hook'
  ]) {
    const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url } })
    t.equal(res.statusCode, 422, url)
    t.match(res.json(), {
      type: '/problems/webhook-target-refused',
      code: 'APP_WEBHOOK_TARGET_REFUSED',
      errors: [{ in: 'body', pointer: '/url', message: /refused as a webhook target/ }]
    }, url)
  }
  t.equal((await app.inject({ url: '/problems/webhook-target-refused' })).statusCode, 200, 'the problem type explains itself')
  t.equal((await app.inject({ url: '/v1/webhooks', headers: admin })).json().data.length, 0, 'nothing was stored')
})

t.test('an allow-list lets loopback targets through, and only the ranges it names', async (t) => {
  const app = await buildTestApp(t, { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8, ::1' })
  const admin = await authHeader(app, ['admin'])
  for (const url of ['http://127.0.0.1:8080/hook', 'http://[::1]:8080/hook', 'http://localhost:8080/hook']) {
    t.equal((await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url } })).statusCode, 201, url)
  }
  t.equal((await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: 'http://10.0.0.1/hook' } })).statusCode, 422, 'other ranges stay refused')
})

t.test('an allow-list entry that is not a range stops the boot', async (t) => {
  const { database, drop } = await freshDatabase()
  t.teardown(async () => { await database.close(); await drop() })
  await t.rejects(buildApp(testConfig({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,not-a-range' }), { database, logger: false }), /not-a-range/)
})

t.test('a delivery of another subscription, or an unknown one, cannot be replayed', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const { id } = (await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: PUBLIC_URL } })).json()
  const res = await app.inject({ method: 'POST', url: `/v1/webhooks/${id}/deliveries/${randomUUID()}/replay`, headers: admin })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { code: 'APP_WEBHOOK_DELIVERY_NOT_FOUND' })
  t.same((await app.inject({ url: `/v1/webhooks/${id}/deliveries`, headers: admin })).json(), { data: [], next_cursor: null })
})

t.test('an upper-case scheme, which the schema accepts, is stored as sent', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const url = PUBLIC_URL.replace('https', 'HTTPS')
  const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url } })
  t.equal(res.statusCode, 201, res.body)
  t.equal((await app.inject({ url: `/v1/webhooks/${res.json().id}`, headers: admin })).json().url, url)
})
