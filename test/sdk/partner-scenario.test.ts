import type { AddressInfo } from 'node:net'
import t from 'tap'
import { createClient, newIdempotencyKey, paginate, verifyWebhookSignature, type Change } from '../../clients/typescript/src/index.js'
import { buildTestApp } from '../helper.js'
import { deliveringEnv } from '../webhooks/helpers.js'
import { Receiver, eventually } from '../webhooks/receiver.js'

t.test('a partner drives the API through the generated SDK', async (t) => {
  const app = await buildTestApp(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { key } = await app.services.apiKeys.create('partner', ['read', 'write'])
  const client = createClient({ baseUrl, apiKey: key })

  // Create, safely retried with an idempotency key.
  const idempotencyKey = newIdempotencyKey()
  const body = { name: 'SDK Partner Co', country: 'de' }
  const created = await client.POST('/v1/companies', { body, params: { header: { 'idempotency-key': idempotencyKey } } })
  t.equal(created.response.status, 201)
  const company = created.data!
  t.equal(company.country, 'DE')
  const retried = await client.POST('/v1/companies', { body, params: { header: { 'idempotency-key': idempotencyKey } } })
  t.equal(retried.data?.id, company.id, 'the retry answers the same company')
  t.equal(retried.response.headers.get('idempotent-replayed'), 'true')

  const eventIds: string[] = []
  for (let i = 0; i < 12; i++) {
    const res = await client.POST('/v1/events', {
      body: {
        company_id: company.id,
        region: i % 2 === 0 ? 'RU' : 'UA',
        service: `Line ${i}`,
        action: 'suspend',
        date: `2022-03-${String(10 + i).padStart(2, '0')}`,
        sources: [{ url: `https://example.com/sdk/${i}`, kind: 'media_report' }]
      },
      params: { header: { 'idempotency-key': newIdempotencyKey() } }
    })
    t.equal(res.response.status, 201)
    eventIds.push(res.data!.id)
  }

  // Page through a filtered list.
  const russian = []
  for await (const event of paginate((cursor) => client.GET('/v1/events', { params: { query: { region: 'RU', limit: 4, ...(cursor ? { cursor } : {}) } } }))) {
    russian.push(event)
  }
  t.equal(russian.length, 6, 'three pages of the six events in RU')
  t.ok(russian.every((e) => e.region === 'RU'))

  // Update with If-Match; a stale ETag is a typed problem.
  const id = eventIds[0]!
  const read = await client.GET('/v1/events/{id}', { params: { path: { id } } })
  const etag = read.response.headers.get('etag')!
  const updated = await client.PATCH('/v1/events/{id}', { params: { path: { id }, header: { 'if-match': etag } }, body: { action: 'exit' } })
  t.equal(updated.data?.action, 'exit')
  t.equal(updated.data?.version, 2)
  const stale = await client.PATCH('/v1/events/{id}', { params: { path: { id }, header: { 'if-match': etag } }, body: { action: 'resume' } })
  t.equal(stale.response.status, 412)
  t.equal(stale.error?.type, '/problems/precondition-failed')

  // Read the change feed to the end.
  const changes: Change[] = []
  let after: string | undefined
  for (;;) {
    const page = await client.GET('/v1/changes', { params: { query: { limit: 5, ...(after ? { after } : {}) } } })
    changes.push(...page.data!.data)
    if (page.data!.data.length === 0) break
    after = page.data!.next_cursor
  }
  t.equal(changes.filter((c) => c.type === 'company.created').length, 1, 'the retried create happened once')
  t.equal(changes.filter((c) => c.type === 'event.created').length, 12)
  t.match(changes.find((c) => c.type === 'event.updated'), { resource_id: id, version: 2, data: { action: 'exit' } })
})

t.test('a partner subscribes to webhooks through the SDK and verifies a delivery', async (t) => {
  const app = await buildTestApp(t, deliveringEnv)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const { key } = await app.services.apiKeys.create('partner-admin', ['admin'])
  const client = createClient({ baseUrl, apiKey: key })
  const receiver = await new Receiver().start()
  t.teardown(() => receiver.stop())

  const subscribed = await client.POST('/v1/webhooks', { body: { url: receiver.url, filters: { region: ['UA'] } } })
  t.equal(subscribed.response.status, 201)
  const { id, secret } = subscribed.data!
  const company = await client.POST('/v1/companies', { body: { name: 'Webhook Partner Co' } })
  const event = await client.POST('/v1/events', {
    body: { company_id: company.data!.id, region: 'UA-43', service: 'Retail', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://example.com/sdk/hook' }] }
  })
  t.equal(event.response.status, 201)

  const [delivery] = await eventually(() => receiver.received.length > 0 ? receiver.received : undefined, 45_000, 'the delivery')
  t.ok(verifyWebhookSignature({ payload: delivery!.body, header: delivery!.headers['webhook-signature'] as string, secret }), 'signed with the subscription secret')
  const change = JSON.parse(delivery!.body) as Change
  t.match(change, { type: 'event.created', resource_id: event.data!.id, data: { region: 'UA-43' } })

  const log = await eventually(async () => {
    const page = await client.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id } } })
    return page.data?.data[0]?.status === 'succeeded' ? page.data.data : undefined
  }, 30_000, 'the delivery log')
  t.match(log, [{ change_id: change.id, change_type: 'event.created', attempts: 1 }])
  t.equal((await client.DELETE('/v1/webhooks/{id}', { params: { path: { id } } })).response.status, 204)
})
