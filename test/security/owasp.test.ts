import * as crypto from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import t, { type Test } from 'tap'
import { buildApp } from '../../src/app.js'
import { queryRows, type Db } from '../../src/db/client.js'
import * as schema from '../../src/db/schema.js'
import { parseCidrList } from '../../src/domain/addresses.js'
import { redactUrl, serializeRequest } from '../../src/logging.js'
import { postWebhook } from '../../src/webhooks/send.js'
import { freshDatabase, serverUrl } from '../database.js'
import { authHeader, buildTestApp, createCompany, createEvent, testConfig } from '../helper.js'

/*
 * The OWASP API Security Top 10 (2023), one test or more per risk, as SECURITY.md maps them. Where another file
 * already proves a point (see SECURITY.md), this one does not repeat it. Routes are enumerated from the committed
 * OpenAPI document, which test/openapi.test.ts proves equal to the routes the app serves.
 */

type Method = 'get' | 'post' | 'patch' | 'put' | 'delete'
const METHODS: Method[] = ['get', 'post', 'patch', 'put', 'delete']
interface Schema { $ref?: string, properties?: Record<string, Schema>, items?: Schema, maximum?: number, [k: string]: unknown }
interface Operation {
  operationId: string
  tags: string[]
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ name: string, in: string, required?: boolean, example?: unknown, schema: Schema }>
  requestBody?: { content: Record<string, { schema: Schema }> }
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>
}
interface Document {
  info: { version: string }
  servers: Array<{ url: string }>
  tags: Array<{ name: string, description: string }>
  paths: Record<string, Partial<Record<Method, Operation>>>
  components: { schemas: Record<string, Schema> }
}

const doc = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8')) as Document
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase() as Uppercase<Method>, path, op: item[m]! })))
/** Operations that need a key: their security has no anonymous (`{}`) alternative. */
/** The operations that need an API key (`bearerAuth`); /metrics has a token of its own, tested in test/plugins/metrics.test.ts. */
const keyed = operations.filter(({ op }) => op.security !== undefined && op.security.some((s) => 'bearerAuth' in s) && !op.security.some((s) => Object.keys(s).length === 0))
const ownToken = operations.filter(({ op }) => op.security?.some((s) => 'metricsToken' in s))
/** The tags the document says need the `admin` scope. */
const adminTags = doc.tags.filter((tag) => tag.description.includes('`admin` scope')).map((tag) => tag.name)
const isAdmin = (op: Operation) => op.tags.some((tag) => adminTags.includes(tag))
const resolve = (s: Schema): Schema => s.$ref ? doc.components.schemas[s.$ref.replace('#/components/schemas/', '')]! : s
/** A path of the document with its parameters filled in: unknown ids (so nothing is found, or changed). */
const concrete = (path: string) => path.replace('{kind}', 'unauthorized').replace(/\{[a-z_]+\}/g, () => crypto.randomUUID())
/** The required query parameters of an operation, set to the document's examples. */
const requiredQuery = (op: Operation) => (op.parameters ?? []).filter((p) => p.in === 'query' && p.required)
  .map((p) => `&${p.name}=${encodeURIComponent(String(p.example ?? (p.schema.examples as unknown[] | undefined)?.[0]))}`).join('')
const label = ({ method, path }: { method: string, path: string }) => `${method} ${path}`

// A public address, so that no DNS is needed and no allow-list applies (nothing is ever sent to it here).
const PUBLIC_URL = 'https://93.184.215.14/hooks/market-exits'
const eventBody = (companyId: string, overrides: object = {}) => ({
  company_id: companyId, region: 'RU', service: 'Retail', action: 'exit', date: '2022-03-08', sources: [{ url: `https://example.com/${Math.random()}` }], ...overrides
})

/** A local HTTP server that counts the requests it gets. */
async function countingServer (answer: (res: ServerResponse) => void = (res) => res.end('ok')) {
  const hits: string[] = []
  const server: Server = createServer((req, res) => { hits.push(`${req.method} ${req.url}`); answer(res) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { hits, url, close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }) }
}

/** An app of its own whose log lines are collected. */
async function loggedApp (t: Test, logger: Record<string, unknown> = {}) {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const { database, drop } = await freshDatabase()
  const app = await buildApp(testConfig({ LOG_LEVEL: 'trace' }), { database, logger: { level: 'trace', stream, ...logger } })
  t.teardown(async () => { await app.close(); await drop() })
  return { app, lines }
}

t.test('API1:2023 broken object level authorisation: a sub-resource is only reachable under the object it belongs to', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  const subscribe = async () => (await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: PUBLIC_URL } })).json().id as string
  const [a, b] = [await subscribe(), await subscribe()]
  const event = await createEvent(app)
  await app.services.webhookDispatch.dispatch()
  const deliveries = async (id: string) => (await app.inject({ url: `/v1/webhooks/${id}/deliveries`, headers: admin })).json().data as Array<{ id: string }>
  const [ofA, ofB] = [await deliveries(a), await deliveries(b)]
  t.ok(ofA.length > 0 && ofB.length > 0, 'each subscription has deliveries of its own')
  t.notOk(ofA.some((d) => ofB.some((e) => e.id === d.id)), "A's log lists none of B's deliveries")
  const replay = await app.inject({ method: 'POST', url: `/v1/webhooks/${a}/deliveries/${ofB[0]!.id}/replay`, headers: admin })
  t.equal(replay.statusCode, 404, "B's delivery cannot be replayed through A")
  t.match(replay.json(), { code: 'APP_WEBHOOK_DELIVERY_NOT_FOUND' })
  t.equal((await app.inject({ method: 'POST', url: `/v1/webhooks/${b}/deliveries/${ofB[0]!.id}/replay`, headers: admin })).statusCode, 202, 'but through B')

  // An id of one kind of resource never resolves as another: the history and restore of an event are not a company's.
  const writer = await authHeader(app)
  for (const [url, method] of [
    [`/v1/events/${event.company_id}`, 'GET'], [`/v1/events/${event.company_id}/revisions`, 'GET'], [`/v1/events/${event.company_id}/restore`, 'POST'],
    [`/v1/companies/${event.id}`, 'GET'], [`/v1/companies/${event.id}/revisions`, 'GET'], [`/v1/companies/${event.id}/restore`, 'POST'],
    [`/v1/companies/${event.id}/timeline`, 'GET'], [`/v1/webhooks/${event.id}`, 'GET'], [`/v1/api-keys/${event.id}`, 'GET'], [`/v1/imports/${event.id}`, 'GET']
  ] as const) {
    const headers = url.startsWith('/v1/webhooks') || url.startsWith('/v1/api-keys') ? admin : writer
    t.equal((await app.inject({ method, url, headers })).statusCode, 404, `${method} ${url}: another resource's id`)
  }
})

t.test('API2:2023 broken authentication: keys only in the Authorization header, exact, compared by hash, never logged', async (t) => {
  t.test('a key in the query string, a cookie or another header is never accepted', async (t) => {
    const app = await buildTestApp(t)
    const { authorization } = await authHeader(app, ['read', 'write', 'admin'])
    const key = authorization.slice('Bearer '.length)
    const reader = await authHeader(app, ['read'])
    for (const name of ['api_key', 'key', 'access_token', 'apikey', 'token']) {
      const write = await app.inject({ method: 'POST', url: `/v1/companies?${name}=${key}`, payload: { name: 'Query' } })
      t.equal(write.statusCode, 401, `POST with ?${name}=`)
      t.match(write.headers['www-authenticate'], /^Bearer\b/)
      const admin = await app.inject({ url: `/v1/api-keys?${name}=${key}` })
      t.equal(admin.statusCode, 401, `GET /v1/api-keys with ?${name}=`)
      const elevated = await app.inject({ method: 'POST', url: `/v1/companies?${name}=${key}`, headers: reader, payload: { name: 'Query' } })
      t.equal(elevated.statusCode, 403, `a read key with ?${name}=<admin key> stays a read key`)
      // A public read ignores it as a credential: it is an unknown parameter, refused like any other.
      const read = await app.inject({ url: `/v1/events?${name}=${key}` })
      t.equal(read.statusCode, 400, `GET /v1/events with ?${name}=`)
      t.notOk(read.body.includes(key), 'the refusal does not echo the key')
    }
    for (const [where, headers] of [
      ['a cookie', { cookie: `api_key=${key}` }],
      ['X-API-Key', { 'x-api-key': key }],
      ['Proxy-Authorization', { 'proxy-authorization': `Bearer ${key}` }]
    ] as const) {
      t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Elsewhere' } })).statusCode, 401, `a key in ${where}`)
    }
    t.same((await app.inject({ url: '/v1/companies' })).json().data, [], 'nothing was created')
  })

  t.test('with READ_REQUIRES_KEY, a key in the query string does not open reads either', async (t) => {
    const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
    const key = (await authHeader(app, ['read'])).authorization.slice('Bearer '.length)
    for (const name of ['api_key', 'key', 'access_token']) {
      t.equal((await app.inject({ url: `/v1/events?${name}=${key}` })).statusCode, 401, `?${name}=`)
    }
  })

  t.test('near misses of a live key are 401 (test/plugins/auth.test.ts covers others, and revoked keys)', async (t) => {
    const app = await buildTestApp(t)
    const key = (await authHeader(app, ['read', 'write'])).authorization.slice('Bearer '.length)
    const flipCase = (s: string) => [...s].map((c) => c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()).join('')
    for (const [why, authorization] of [
      ['one character appended', `Bearer ${key}A`],
      ['the last character dropped', `Bearer ${key.slice(0, -1)}`],
      ['the case of the secret flipped', `Bearer mxk_${flipCase(key.slice(4))}`],
      ['the prefix upper-cased', `Bearer MXK_${key.slice(4)}`],
      ['a trailing space', `Bearer ${key} `],
      ['two keys', `Bearer ${key} ${key}`],
      ['the key twice in one token', `Bearer ${key}${key}`],
      ['a leading zero-width space', `Bearer \u200b${key}`],
      ['over 200 characters', `Bearer ${key}${'A'.repeat(200)}`]
    ] as const) {
      const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: { authorization }, payload: { name: 'Near' } })
      t.equal(res.statusCode, 401, why)
    }
    t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: { authorization: `bearer ${key}` }, payload: { name: 'Exact' } })).statusCode, 201,
      'the exact key is accepted (the scheme is case-insensitive, RFC 9110)')
  })

  t.test('keys are compared by their SHA-256 hash, in constant time; the database never sees a presented secret', async (t) => {
    const app = await buildTestApp(t)
    const compared: Array<[Buffer, Buffer]> = []
    const { createApiKeyService } = await t.mockImport<typeof import('../../src/services/api-keys.js')>('../../src/services/api-keys.js', {
      'node:crypto': {
        ...crypto,
        timingSafeEqual: (a: Buffer, b: Buffer) => { compared.push([a, b]); return crypto.timingSafeEqual(a, b) }
      }
    })
    // The service over a drizzle instance that records every statement and its parameters.
    const queries: string[] = []
    const logger = { logQuery: (query: string, params: unknown[]) => { queries.push(JSON.stringify([query, params])) } }
    const db = (app.database.pool
      ? drizzlePg(app.database.pool, { schema, casing: 'snake_case', logger })
      : drizzlePglite(app.database.pglite!, { schema, casing: 'snake_case', logger })) as unknown as Db
    const service = createApiKeyService({ db })
    const { key } = await service.create('constant-time', ['read'])
    const hash = crypto.createHash('sha256').update(key).digest('hex')

    queries.length = 0
    t.match(await service.authenticate(key), { name: 'constant-time' })
    t.ok(queries.length > 0 && queries.every((q) => !q.includes(key.slice(4))), 'no statement carries the secret')
    t.ok(queries[0]!.includes(hash), 'the lookup is by the hash')
    t.equal(compared.length, 1, 'the match is confirmed with crypto.timingSafeEqual')
    t.same(compared[0]!.map((b) => b.length), [64, 64], 'over two hex SHA-256 digests: always the same length, whatever was presented')

    const nearMiss = key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A')
    for (const presented of [nearMiss, 'mxk_', `mxk_${'a'.repeat(196)}`, `mxk_${'\u00e9'.repeat(50)}`]) {
      queries.length = 0
      t.equal(await service.authenticate(presented), undefined, `${presented.slice(0, 12)}… (${presented.length} characters) is refused`)
      t.ok(queries.every((q) => !q.includes(presented.slice(4)) || presented === 'mxk_'), 'and never sent to the database')
    }
    // A string compare of the secret could stop at the first differing character; none exists in the code that checks keys.
    for (const file of ['src/services/api-keys.ts', 'src/plugins/auth.ts']) {
      const source = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8')
      t.notMatch(source, /\b(presented|key|secret|hash)\s*[!=]==?\s*(?!undefined\b|null\b)[\w.]/i, `${file}: no ==/=== on a secret`)
      t.notMatch(source, /(presented|key)\.(localeCompare|startsWith\(row|endsWith\(row)/, `${file}: no other compare of a secret`)
    }
  })

  t.test('keys never reach the log: Authorization and Cookie are redacted', async (t) => {
    // A deployment that logs request headers (a common serializer) still gets no secret.
    const { app, lines } = await loggedApp(t, {
      serializers: { req: (req: { method: string, url: string, headers: Record<string, string> }) => ({ method: req.method, url: req.url, headers: req.headers }) }
    })
    const write = await authHeader(app, ['read', 'write'])
    const key = write.authorization.slice('Bearer '.length)
    const read = await authHeader(app, ['read'], 'soon-revoked')
    await app.services.apiKeys.revoke('soon-revoked')
    t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: { ...write, cookie: 'session=cookie-secret' }, payload: { name: 'Logged' } })).statusCode, 201)
    t.equal((await app.inject({ method: 'POST', url: '/v1/companies', headers: read, payload: { name: 'Revoked' } })).statusCode, 401)
    t.equal((await app.inject({ url: '/v1/api-keys', headers: write })).statusCode, 403)
    t.equal((await app.inject({ url: '/v1/nowhere', headers: write })).statusCode, 404)
    const logged = lines.join('')
    t.ok(lines.length >= 8, `${lines.length} lines logged`)
    for (const secret of [key, key.slice(-20), read.authorization.slice(-20), 'cookie-secret']) {
      t.notOk(logged.includes(secret), `${secret.slice(0, 6)}… is not in the log`)
    }
    const requests = lines.map((l) => JSON.parse(l) as { req?: { headers?: Record<string, string> } }).filter((l) => l.req?.headers)
    t.ok(requests.length >= 4, 'the requests were logged with their headers')
    t.ok(requests.every((l) => l.req!.headers!.authorization === '[Redacted]'), 'Authorization is [Redacted]')
    t.equal(requests.find((l) => l.req!.headers!.cookie)?.req!.headers!.cookie, '[Redacted]', 'Cookie is [Redacted]')
  })

  t.test('credentials in a URL are redacted before they are logged', async (t) => {
    for (const [url, logged] of [
      ['/v1/events?api_key=mxk_abc-DEF_123&limit=5', '/v1/events?api_key=[Redacted]&limit=5'],
      ['/v1/events?access_token=abc&key=def&region=RU', '/v1/events?access_token=[Redacted]&key=[Redacted]&region=RU'],
      ['/v1/events?api%5Fkey=abc', '/v1/events?api%5Fkey=[Redacted]'],
      ['/v1/events?cursor=mxk_abcdef', '/v1/events?cursor=mxk_[Redacted]'],
      ['/v1/events/mxk_abcdef', '/v1/events/mxk_[Redacted]'],
      ['/v1/events?region=RU&service=%25&flag', '/v1/events?region=RU&service=%25&flag'],
      ['/v1/events?%E0%A4%A=1', '/v1/events?%E0%A4%A=1'],
      ['/healthz', '/healthz']
    ] as const) {
      t.equal(redactUrl(url), logged, url)
    }
    const request = { method: 'GET', url: '/v1/events?api_key=mxk_abc', host: 'api.example.com', ip: '192.0.2.1', socket: { remotePort: 4321 } }
    t.same(serializeRequest(request as never), { method: 'GET', url: '/v1/events?api_key=[Redacted]', host: 'api.example.com', remoteAddress: '192.0.2.1', remotePort: 4321 },
      "the request serializer logs Fastify's fields, with the URL redacted")
  })

  t.test('a key sent in the query string is not logged either', async (t) => {
    const { app, lines } = await loggedApp(t)
    const key = (await authHeader(app, ['read', 'write'])).authorization.slice('Bearer '.length)
    t.equal((await app.inject({ method: 'POST', url: `/v1/companies?api_key=${key}`, payload: { name: 'Query' } })).statusCode, 401)
    t.equal((await app.inject({ url: `/v1/events?access_token=${key}` })).statusCode, 400)
    t.ok(lines.length >= 4, 'the requests were logged')
    t.notOk(lines.join('').includes(key.slice(4)), 'the secret is not in the log')
  })
})

t.test('API3:2023 broken object property level authorisation: server-owned fields are refused, secrets are shown once', async (t) => {
  const app = await buildTestApp(t)
  const writer = await authHeader(app)
  const admin = await authHeader(app, ['admin'])
  const event = await createEvent(app)
  const company = (await app.inject({ url: `/v1/companies/${event.company_id}` })).json()
  const createdKey = (await app.inject({ method: 'POST', url: '/v1/api-keys', headers: admin, payload: { name: 'sample', scopes: ['read'] } })).json()
  const webhook = (await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: PUBLIC_URL } })).json()
  const cases = [
    { method: 'POST', path: '/v1/events', url: '/v1/events', headers: writer, base: eventBody(company.id), sample: event },
    { method: 'PATCH', path: '/v1/events/{id}', url: `/v1/events/${event.id}`, headers: writer, base: {}, sample: event },
    { method: 'POST', path: '/v1/companies', url: '/v1/companies', headers: writer, base: { name: 'Owned' }, sample: company },
    { method: 'PATCH', path: '/v1/companies/{id}', url: `/v1/companies/${company.id}`, headers: writer, base: {}, sample: company },
    { method: 'POST', path: '/v1/api-keys', url: '/v1/api-keys', headers: admin, base: { name: 'owned', scopes: ['read'] }, sample: createdKey },
    { method: 'POST', path: '/v1/webhooks', url: '/v1/webhooks', headers: admin, base: { url: PUBLIC_URL }, sample: webhook }
  ] as const
  for (const c of cases) {
    const op = doc.paths[c.path]![c.method.toLowerCase() as Method]!
    const input = Object.keys(resolve(Object.values(op.requestBody!.content)[0]!.schema).properties!)
    const success = op.responses['201'] ?? op.responses['200']!
    const output = Object.keys(resolve(success.content!['application/json']!.schema).properties!)
    // What the server answers but does not take: ids, timestamps, versions, counts, secrets it generates.
    const owned = output.filter((f) => !input.includes(f))
    t.ok(owned.includes('id') || c.method === 'PATCH', `${c.method} ${c.path}: server-owned ${owned.join(', ')}`)
    t.ok(owned.length >= 1)
    for (const field of owned) {
      const payload = { ...c.base, [field]: (c.sample as Record<string, unknown>)[field] }
      const res = await app.inject({ method: c.method, url: c.url, headers: c.headers, payload })
      t.equal(res.statusCode, 400, `${c.method} ${c.path} with ${field}`)
      t.match(res.json(), { code: 'APP_VALIDATION', errors: [{ in: 'body', pointer: `/${field}` }] }, `names /${field}`)
    }
  }
  t.equal((await app.inject({ url: '/v1/events' })).json().data.length, 1, 'no event was created')
  t.same((await app.inject({ url: `/v1/events/${event.id}` })).json(), event, 'nor changed')
  t.same((await app.inject({ url: `/v1/companies/${company.id}` })).json(), company, 'nor the company')
  t.equal((await app.inject({ url: '/v1/api-keys', headers: admin })).json().data.length, 3, 'no key was created')
  t.equal((await app.inject({ url: '/v1/webhooks', headers: admin })).json().data.length, 1, 'no subscription was created')

  // Secrets (a key, a webhook secret) are in the response that creates them and in no other response schema.
  const secretFields = ['key', 'secret', 'key_hash', 'password']
  const exposing: string[] = []
  const walk = (s: Schema | undefined, where: string, seen: Set<Schema>) => {
    if (!s || typeof s !== 'object' || seen.has(s)) return
    seen.add(s)
    if (s.$ref) return walk(resolve(s), where, seen)
    for (const [name, sub] of Object.entries(s.properties ?? {})) {
      if (secretFields.includes(name)) exposing.push(`${where}.${name}`)
      walk(sub, `${where}.${name}`, seen)
    }
    for (const k of ['items', 'anyOf', 'oneOf', 'allOf'] as const) {
      const v = s[k] as Schema | Schema[] | undefined
      for (const sub of Array.isArray(v) ? v : v ? [v] : []) walk(sub, where, seen)
    }
  }
  for (const { method, path, op } of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      for (const media of Object.values(response.content ?? {})) walk(media.schema, `${method} ${path} ${status}`, new Set())
    }
  }
  t.same(exposing.sort(), ['POST /v1/api-keys 201.key', 'POST /v1/webhooks 201.secret'], 'only the creating responses carry a secret')
  const listed = await app.inject({ url: '/v1/api-keys', headers: admin })
  t.notOk(listed.body.includes(createdKey.key.slice(4)), 'a listed key shows no secret')
  t.notOk(listed.body.includes(crypto.createHash('sha256').update(createdKey.key).digest('hex')), 'nor its hash')
})

t.test('API4:2023 unrestricted resource consumption: page, array and time limits', async (t) => {
  t.test('every documented page size has a maximum, and one more is a 400', async (t) => {
    const app = await buildTestApp(t)
    const admin = await authHeader(app, ['admin'])
    const paged = operations.filter(({ op }) => op.parameters?.some((p) => p.name === 'limit' && p.in === 'query'))
    t.ok(paged.length >= 10, `${paged.length} paged operations`)
    for (const route of paged) {
      const { maximum } = route.op.parameters!.find((p) => p.name === 'limit')!.schema
      t.ok(typeof maximum === 'number' && maximum <= 1000, `${label(route)}: limit ≤ ${maximum}`)
      const url = concrete(route.path)
      const over = await app.inject({ url: `${url}?limit=${maximum! + 1}${requiredQuery(route.op)}`, headers: admin })
      t.equal(over.statusCode, 400, `${label(route)}?limit=${maximum! + 1}`)
      t.match(over.json(), { errors: [{ in: 'querystring', pointer: '/limit' }] })
      t.not((await app.inject({ url: `${url}?limit=${maximum}${requiredQuery(route.op)}`, headers: admin })).statusCode, 400, `${label(route)}?limit=${maximum}`)
    }
  })

  t.test('arrays in bodies are bounded: one item over the limit is a 400 naming the array', async (t) => {
    const app = await buildTestApp(t)
    const writer = await authHeader(app)
    const admin = await authHeader(app, ['admin'])
    const company = await createCompany(app)
    const many = (n: number, item: (i: number) => unknown) => Array.from({ length: n }, (_, i) => item(i))
    for (const [url, headers, payload, pointer] of [
      ['/v1/events', writer, eventBody(company.id, { sources: many(21, (i) => ({ url: `https://example.com/${i}` })) }), '/sources'],
      ['/v1/companies', writer, { name: 'Many', aliases: many(51, (i) => `Alias ${i}`) }, '/aliases'],
      ['/v1/companies/match', {}, { names: many(101, (i) => ({ name: `Name ${i}` })) }, '/names'],
      ['/v1/webhooks', admin, { url: PUBLIC_URL, filters: { company_id: many(101, () => crypto.randomUUID()) } }, '/filters/company_id'],
      ['/v1/api-keys', admin, { name: 'many', scopes: ['read', 'write', 'admin', 'read'] }, '/scopes']
    ] as const) {
      const res = await app.inject({ method: 'POST', url, headers, payload })
      t.equal(res.statusCode, 400, `${url} ${pointer}`)
      t.match(res.json(), { errors: [{ in: 'body', pointer }] })
    }
    t.same((await app.inject({ url: '/v1/events' })).json().data, [], 'nothing was created')
  })

  t.test('a query over the statement timeout is a 503 with Retry-After, not a hang', async (t) => {
    const { database, drop } = await freshDatabase({ statementTimeoutMs: 300 })
    const app = await buildApp(testConfig(), { database, logger: false })
    t.teardown(async () => { await app.close(); await drop() })
    const headers = await authHeader(app)
    if (serverUrl) {
      const [setting] = await queryRows<{ statement_timeout: string }>(app.db, sql`SHOW statement_timeout`)
      t.equal(setting!.statement_timeout, '300ms', "the pool's sessions run with the configured statement_timeout")
      await app.db.execute(sql.raw('CREATE FUNCTION slow_company() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(5); RETURN NEW; END $$'))
    } else {
      // PGlite runs in this process and cannot interrupt a statement: it gets the error Postgres raises on a timeout.
      t.comment('PGlite has no statement timeout: the 57014 error a timed-out statement raises is simulated (TEST_DATABASE_URL runs the real one)')
      await app.db.execute(sql.raw("CREATE FUNCTION slow_company() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = 'query_canceled'; END $$"))
    }
    await app.db.execute(sql.raw('CREATE TRIGGER slow_company BEFORE INSERT ON companies FOR EACH ROW EXECUTE FUNCTION slow_company()'))
    const started = Date.now()
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers, payload: { name: 'Slow' } })
    const elapsed = Date.now() - started
    t.equal(res.statusCode, 503)
    t.ok(elapsed < 2000, `answered in ${elapsed} ms`)
    t.match(res.headers['retry-after'], /^[1-9]\d*$/)
    t.match(res.json(), { type: '/problems/service-unavailable', code: 'APP_DATABASE_UNAVAILABLE' })
    t.notOk(/pg_sleep|slow_company|statement timeout|canceling/i.test(res.body), 'the body names no SQL')
    t.equal((await app.inject({ url: '/v1/companies' })).statusCode, 200, 'the next request is served')
    t.same((await app.inject({ url: '/v1/companies' })).json().data, [], 'the timed-out write left nothing')
  })
})

t.test('API5:2023 broken function level authorisation: every operation checks the scope the document gives it', async (t) => {
  const app = await buildTestApp(t)
  t.ok(keyed.length >= 15, `${keyed.length} operations need a key`)
  t.same(operations.filter((r) => r.method !== 'GET' && !keyed.includes(r)).map((r) => r.op.operationId), ['matchCompanies'],
    'every POST, PATCH, PUT and DELETE needs a key, but for the match, which only reads')
  t.same(adminTags.sort(), ['api-keys', 'webhooks'], 'admin operations: key and webhook management')
  const reader = await authHeader(app, ['read'])
  const writer = await authHeader(app, ['read', 'write'])

  t.same(ownToken.map((r) => r.path), ['/metrics'], 'only the metrics have a credential of their own')
  for (const route of operations.filter((r) => !ownToken.includes(r))) {
    const res = await app.inject({ method: route.method, url: concrete(route.path) })
    if (keyed.includes(route)) t.equal(res.statusCode, 401, `${label(route)} without a key`)
    else t.not(res.statusCode, 401, `${label(route)} is public (its security allows {})`)
  }
  // Every write, every admin read: a read key is a 403, checked before the body is even read.
  for (const route of keyed) {
    const res = await app.inject({ method: route.method, url: concrete(route.path), headers: reader })
    t.equal(res.statusCode, 403, `${label(route)} with a read key`)
    t.match(res.json(), { type: '/problems/forbidden', detail: isAdmin(route.op) ? /admin/ : /write/ })
  }
  t.same((await app.inject({ url: '/v1/changes' })).json().data, [], 'no refused request changed anything')
  t.equal((await app.inject({ url: '/v1/api-keys', headers: await authHeader(app, ['admin']) })).json().data.length, 3, 'no key was created')

  const admin = keyed.filter((route) => isAdmin(route.op))
  t.ok(admin.length >= 10, `${admin.length} admin operations`)
  for (const route of keyed) {
    const res = await app.inject({ method: route.method, url: concrete(route.path), headers: writer })
    if (isAdmin(route.op)) t.equal(res.statusCode, 403, `${label(route)} with a write key`)
    else t.notOk([401, 403].includes(res.statusCode), `${label(route)} with a write key passes auth (${res.statusCode})`)
  }
  // That the routes served are exactly the documented ones is proven by test/openapi.test.ts.
})

t.test('API6:2023 unrestricted access to sensitive business flows: bulk flows count against one budget that a key cannot multiply', async (t) => {
  const app = await buildTestApp(t, { RATE_LIMIT_PER_KEY: '3' })
  const writer = await authHeader(app)
  const company = await createCompany(app)
  const line = JSON.stringify({ ...eventBody(company.id), company_id: company.id })
  const flows = [
    { method: 'POST' as const, url: '/v1/imports', headers: { ...writer, 'content-type': 'application/x-ndjson' }, payload: `${line}\n${line.replace('Retail', 'Cloud')}\n` },
    { method: 'POST' as const, url: '/v1/companies/match', headers: writer, payload: { names: [{ name: 'Acme' }] } },
    { method: 'POST' as const, url: '/v1/companies', headers: writer, payload: { name: 'Budgeted' } }
  ]
  for (const flow of flows) t.ok((await app.inject(flow)).statusCode < 300, `${flow.url} is served`)
  const fourth = await app.inject({ ...flows[2]!, payload: { name: 'Over budget' } })
  t.equal(fourth.statusCode, 429, 'a bulk import counts like any request: the 4th request is limited')
  t.match(fourth.headers['retry-after'], /^[1-9]\d*$/)
  // Minting a fresh budget needs the admin scope.
  const mint = await app.inject({ method: 'POST', url: '/v1/api-keys', headers: await authHeader(app, ['read', 'write']), payload: { name: 'more', scopes: ['write'] } })
  t.equal(mint.statusCode, 403, 'a write key cannot create keys')
})

t.test('API7:2023 server side request forgery: only http(s) URLs are stored, and none is fetched', async (t) => {
  t.test('URL fields refuse every other scheme with a 400 naming the field', async (t) => {
    const app = await buildTestApp(t)
    const writer = await authHeader(app)
    const admin = await authHeader(app, ['admin'])
    const company = await createCompany(app)
    const schemes = ['javascript:alert(1)', 'file:///etc/passwd', 'ftp://example.com/x', 'data:text/html,<script>alert(1)</script>',
      'gopher://127.0.0.1:6379/_INFO', 'dict://127.0.0.1:11211/stats', 'ldap://example.com', 'mailto:a@example.com', '//example.com/x', '/relative', 'http//example.com']
    for (const value of schemes) {
      for (const [url, headers, payload, pointer] of [
        ['/v1/events', writer, eventBody(company.id, { sources: [{ url: value }] }), '/sources/0/url'],
        ['/v1/events', writer, eventBody(company.id, { sources: [{ url: 'https://example.com/a', archived_url: value }] }), '/sources/0/archived_url'],
        ['/v1/companies', writer, { name: 'Schemes', website: value }, '/website'],
        ['/v1/webhooks', admin, { url: value }, '/url']
      ] as const) {
        const res = await app.inject({ method: 'POST', url, headers, payload })
        t.equal(res.statusCode, 400, `${pointer} = ${value}`)
        t.match(res.json(), { errors: [{ in: 'body', pointer }] })
      }
    }
    t.same((await app.inject({ url: '/v1/events' })).json().data, [], 'no event was stored')
  })

  t.test('URLs pointing at a local server are stored, never requested; only webhooks call out, under their allow-list', async (t) => {
    const local = await countingServer()
    t.teardown(local.close)
    // The delivery worker runs, so that any fetch it could make would happen within the wait below.
    const app = await buildTestApp(t, { WEBHOOKS_ENABLED: 'true', WEBHOOK_POLL_INTERVAL_MS: '500' })
    await app.ready()
    const writer = await authHeader(app)
    const admin = await authHeader(app, ['admin'])
    const company = (await app.inject({ method: 'POST', url: '/v1/companies', headers: writer, payload: { name: 'Local', website: `${local.url}/website` } })).json()
    const created = await app.inject({
      method: 'POST', url: '/v1/events', headers: writer, payload: eventBody(company.id, { sources: [{ url: `${local.url}/source`, archived_url: `${local.url}/archive` }] })
    })
    t.equal(created.statusCode, 201)
    t.equal((await app.inject({
      method: 'PATCH', url: `/v1/events/${created.json().id}`, headers: writer, payload: { sources: [{ url: `${local.url}/patched` }] }
    })).statusCode, 200)
    const line = JSON.stringify(eventBody(company.id, { service: 'Imported', sources: [{ url: `${local.url}/imported` }] }))
    t.equal((await app.inject({ method: 'POST', url: '/v1/imports', headers: { ...writer, 'content-type': 'application/x-ndjson' }, payload: line })).statusCode, 202)
    t.equal((await app.inject({ url: `/v1/sources?url=${encodeURIComponent(`${local.url}/source`)}` })).statusCode, 200)
    t.equal((await app.inject({ url: '/v1/events', headers: { accept: 'text/csv' } })).statusCode, 200)
    const hook = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: `${local.url}/hook` } })
    t.equal(hook.statusCode, 422, 'a webhook to the local server is refused without an allow-list (test/routes/webhooks.test.ts covers the ranges)')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    t.same(local.hits, [], 'the local server got no request')

    // The only code that opens outbound connections is the webhook sender, which checks every address it connects to.
    const clients: string[] = []
    const srcDir = new URL('../../src/', import.meta.url)
    for (const file of (await readdir(srcDir, { recursive: true })).filter((f) => f.endsWith('.ts'))) {
      const source = await readFile(new URL(file, srcDir), 'utf8')
      if (/import \w+ from '(node:)?(https?|http2|tls|undici)'|import \{[^}]*\b(request|get|connect|createConnection)\b[^}]*\} from '(node:)?(https?|http2|net|tls|undici)'|\bfetch\(/.test(source)) {
        clients.push(file.replaceAll('\\', '/'))
      }
    }
    t.same(clients, ['webhooks/send.ts'], 'src/webhooks/send.ts alone makes requests')
  })
})

t.test('API8:2023 security misconfiguration: errors leak nothing, and carry the security headers', async (t) => {
  // Helmet's headers and CORS are proven in test/plugins/security-headers.test.ts and test/plugins/cors.test.ts;
  // a 500 without a stack trace or SQL in test/routes/errors.test.ts. Here: the errors a client can force.
  const app = await buildTestApp(t, { CORS_ORIGINS: 'https://app.example.com', BODY_LIMIT_BYTES: '1024' })
  const writer = await authHeader(app)
  const origin = { origin: 'https://evil.example.com' }
  const forced = {
    'malformed JSON': { method: 'POST' as const, url: '/v1/companies', headers: { ...writer, ...origin, 'content-type': 'application/json' }, payload: '{"name": "x",' },
    'a JSON prototype key': { method: 'POST' as const, url: '/v1/companies', headers: { ...writer, ...origin, 'content-type': 'application/json' }, payload: '{"name": "x", "__proto__": {"admin": true}}' },
    'an unknown route': { url: '/v1/nowhere/../../etc/passwd', headers: origin },
    'an unsupported method': { method: 'PUT' as const, url: '/v1/events', headers: origin },
    TRACE: { method: 'TRACE' as const, url: '/v1/events', headers: { ...origin, authorization: writer.authorization } },
    'a malformed id': { url: '/v1/events/not-a-uuid', headers: origin },
    'an unsupported media type': { method: 'POST' as const, url: '/v1/companies', headers: { ...writer, ...origin, 'content-type': 'application/xml' }, payload: '<a/>' },
    'a body over the limit': { method: 'POST' as const, url: '/v1/companies', headers: { ...writer, ...origin }, payload: { name: 'x'.repeat(2000) } },
    'a bad cursor': { url: '/v1/events?cursor=%00%ff', headers: origin },
    'a NUL in a string': { method: 'POST' as const, url: '/v1/companies', headers: { ...writer, ...origin, 'content-type': 'application/json' }, payload: '{"name": "a\\u0000b"}' }
  }
  for (const [what, request] of Object.entries(forced)) {
    const res = await app.inject(request)
    t.ok(res.statusCode >= 400 && res.statusCode < 500, `${what}: ${res.statusCode}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: a problem`)
    t.notMatch(res.body, /\bat \S+ \(|\.[jt]s:\d|node_modules|\/work\/|\/home\/|\/src\/|stack|Error:|SELECT|INSERT/i, `${what}: no stack trace, path or SQL`)
    t.notOk(res.body.includes(writer.authorization.slice(-20)), `${what}: no echo of the key`)
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: security headers`)
    t.match(res.headers['strict-transport-security'], /max-age=/)
    t.notOk('x-powered-by' in res.headers || 'server' in res.headers, `${what}: no server banner`)
    t.notOk('access-control-allow-origin' in res.headers, `${what}: no CORS header for an origin outside the allow-list`)
  }
  t.same((await app.inject({ url: '/v1/companies' })).json().data, [], 'nothing was created')
})

t.test('API9:2023 improper inventory management: one documented version, nothing served beside it', async (t) => {
  const app = await buildTestApp(t)
  const meta = ['/healthz', '/readyz', '/metrics', '/openapi.json', '/problems/{kind}']
  t.match(doc.info.version, /^1\.\d+\.\d+$/, 'the document is v1')
  t.same(doc.servers.map((s) => s.url), ['/'], 'one server, relative: no staging or internal host is published')
  for (const { method, path, op } of operations) {
    t.ok(path.startsWith('/v1/') || (meta.includes(path) && op.tags.includes('meta')), `${method} ${path}: under /v1, or a meta route`)
  }
  for (const url of ['/v0/events', '/v2/events', '/api/v1/events', '/v1beta/events', '/internal/events', '/admin', '/debug', '/metrics' /* without METRICS_TOKEN */, '/v1/events.json', '/.env', '/openapi.yaml']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 404, `${url}: not served`)
  }
  // The served routes equal the document's (test/openapi.test.ts); the committed document equals the served one (`npm run openapi:check` in CI).
  t.same((await app.inject({ url: '/openapi.json' })).json(), doc, 'the document served is the one committed')
})

t.test('API10:2023 unsafe consumption of APIs: what receivers and imported data send back is not trusted', async (t) => {
  t.test('a webhook receiver that redirects is not followed, whatever it redirects to', async (t) => {
    const inside = await countingServer()
    t.teardown(inside.close)
    const receiver = await countingServer((res) => { res.writeHead(302, { location: `${inside.url}/internal` }).end('x'.repeat(1_000_000)) })
    t.teardown(receiver.close)
    const result = await postWebhook(`${receiver.url}/hook`, '{}', { 'content-type': 'application/json' }, { timeoutMs: 2000, allowed: parseCidrList('127.0.0.0/8') })
    t.same(result, { status: 302 }, 'only the status is kept: the worker counts a 3xx as a failure, and keeps no body')
    t.same(receiver.hits, ['POST /hook'])
    t.same(inside.hits, [], 'the redirect target got nothing')
  })

  t.test('imported third-party lines are validated like API input: bad URLs and server-owned fields are rejected per line', async (t) => {
    const app = await buildTestApp(t)
    const writer = await authHeader(app)
    const company = await createCompany(app)
    const lines = [
      eventBody(company.id, { sources: [{ url: 'javascript:alert(1)' }] }),
      eventBody(company.id, { id: crypto.randomUUID() }),
      eventBody(company.id, { version: 7 }),
      eventBody(company.id, { service: 'Good' })
    ].map((l) => JSON.stringify(l)).join('\n')
    const res = await app.inject({ method: 'POST', url: '/v1/imports?mode=partial', headers: { ...writer, 'content-type': 'application/x-ndjson' }, payload: lines })
    t.equal(res.statusCode, 202)
    const outcome = (await app.inject({ url: `/v1/imports/${res.json().id}` })).json()
    t.match(outcome, { counts: { created: 1, rejected: 3 } })
    t.same(outcome.errors.map((e: { line: number }) => e.line), [1, 2, 3], 'each bad line is reported')
    t.same((await app.inject({ url: '/v1/events' })).json().data.map((e: { service: string }) => e.service), ['Good'])
  })
})
