import t from 'tap'
import { verifyWebhookSignature } from '../../clients/typescript/src/index.js'
import type { Change } from '../../src/schemas/changes.js'
import { authHeader, buildTestApp } from '../helper.js'
import { deliveringEnv, deliveries, eventBody, post, subscribe } from './helpers.js'
import { Receiver, eventually } from './receiver.js'

t.test('matching changes are delivered as the feed\'s JSON, signed; others, and deleted subscriptions, get nothing', async (t) => {
  const app = await buildTestApp(t, deliveringEnv)
  const admin = await authHeader(app, ['admin'])
  const writer = await authHeader(app, ['read', 'write'])
  const [russianExits, everything, removed] = await Promise.all([new Receiver().start(), new Receiver().start(), new Receiver().start()])
  t.teardown(() => Promise.all([russianExits.stop(), everything.stop(), removed.stop()]))

  const filtered = await subscribe(app, admin, { url: russianExits.url, filters: { region: ['RU'], action: ['exit'] } })
  const all = await subscribe(app, admin, { url: everything.url })
  const gone = await subscribe(app, admin, { url: removed.url })
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/webhooks/${gone.id}`, headers: admin })).statusCode, 204)

  const company = await post(app, writer, '/v1/companies', { name: 'Hooked Co' })
  const exit = await post(app, writer, '/v1/events', eventBody(company.id))
  await post(app, writer, '/v1/events', eventBody(company.id, { region: 'UA' }))
  await post(app, writer, '/v1/events', eventBody(company.id, { action: 'suspend' }))
  // The last change matches every live subscription: once it is in, the ones before it were dispatched.
  const last = await post(app, writer, '/v1/events', eventBody(company.id, { region: 'RU-MOW' }))

  await eventually(() => russianExits.received.length >= 2 && everything.received.length >= 5 ? true : undefined, 45_000, 'the deliveries')
  const feed: Change[] = (await app.inject({ url: '/v1/changes' })).json().data
  const byId = new Map(feed.map((c) => [c.id, c]))

  // Deliveries run as concurrent jobs: like Stripe's, they may arrive in any order.
  const first = russianExits.received.find((r) => JSON.parse(r.body).resource_id === exit.id)!
  t.ok(first, 'the exit was delivered')
  t.equal(first.headers['content-type'], 'application/json')
  t.match(first.headers['webhook-signature'], /^t=\d+,v1=[0-9a-f]{64}$/)
  t.ok(verifyWebhookSignature({ payload: first.body, header: first.headers['webhook-signature'] as string, secret: filtered.secret }), 'the SDK verifies the signature')
  t.notOk(verifyWebhookSignature({ payload: first.body, header: first.headers['webhook-signature'] as string, secret: all.secret }), 'not with another secret')
  const change = JSON.parse(first.body) as Change
  t.match(change, { type: 'event.created', resource_id: exit.id, data: { id: exit.id, region: 'RU', action: 'exit' } })
  t.same(change, byId.get(change.id), 'the body is the change as the feed serves it')

  t.same(russianExits.received.map((r) => JSON.parse(r.body).resource_id).sort(), [exit.id, last.id].sort(), 'only RU (and its subdivisions) exits')
  t.same(everything.received.map((r) => JSON.parse(r.body).type).sort(), ['company.created', 'event.created', 'event.created', 'event.created', 'event.created'])
  t.equal(removed.received.length, 0, 'a deleted subscription receives nothing')

  const log = await eventually(async () => {
    const entries = await deliveries(app, admin, filtered.id)
    return entries.every((d) => d.status === 'succeeded') ? entries : undefined
  }, 30_000, 'the log to settle')
  t.equal(log.length, 2)
  const logged = log.find((d) => d.change_id === change.id)
  t.match(logged, {
    subscription_id: filtered.id,
    change_id: change.id,
    change_type: 'event.created',
    status: 'succeeded',
    attempts: 1,
    last_response_status: 200,
    last_error: null,
    delivered_at: /^\d{4}-/
  })
  t.equal(first.headers['webhook-id'], logged?.id, 'Webhook-Id is the delivery id')
  t.same(await deliveries(app, admin, all.id).then((d) => d.length), 5)
})

t.test('failed attempts are retried with growing delays, logged, and a failed delivery can be replayed', async (t) => {
  const app = await buildTestApp(t, deliveringEnv)
  const admin = await authHeader(app, ['admin'])
  const writer = await authHeader(app, ['read', 'write'])
  const flaky = await new Receiver().answer(500, 500).start()
  const down = await new Receiver().answer(500, 503, 502).start()
  t.teardown(() => Promise.all([flaky.stop(), down.stop()]))
  const flakyHook = await subscribe(app, admin, { url: flaky.url, filters: { action: ['exit'] } })
  const downHook = await subscribe(app, admin, { url: down.url, filters: { action: ['exit'] } })
  const company = await post(app, writer, '/v1/companies', { name: 'Retry Co' })
  await post(app, writer, '/v1/events', eventBody(company.id))

  const settled = async (id: string, status: string) => {
    const [entry] = await deliveries(app, admin, id)
    return entry?.status === status ? entry : undefined
  }
  const [succeeded, failed] = await Promise.all([
    eventually(() => settled(flakyHook.id, 'succeeded'), 45_000, 'the flaky delivery to succeed'),
    eventually(() => settled(downHook.id, 'failed'), 45_000, 'the failing delivery to fail')
  ])
  t.match(succeeded, { attempts: 3, last_response_status: 200, last_error: null })
  t.equal(flaky.received.length, 3, '500, 500, then 200')
  t.same(new Set(flaky.received.map((r) => r.headers['webhook-id'])), new Set([succeeded.id]), 'one Webhook-Id for every attempt')
  const [a, b, c] = flaky.received.map((r) => r.at)
  // pg-boss waits between 1 and 2 × retryDelay × 2^(n-1) before retry n.
  t.ok(b! - a! >= 900, `first retry after ${b! - a!} ms`)
  t.ok(c! - b! >= 1900, `second retry after ${c! - b!} ms, longer`)
  t.ok(flaky.received.every((r) => verifyWebhookSignature({ payload: r.body, header: r.headers['webhook-signature'] as string, secret: flakyHook.secret })))

  t.match(failed, { attempts: 3, last_response_status: 502, last_error: 'the receiver answered 502', delivered_at: null })
  t.equal(down.received.length, 3, 'WEBHOOK_MAX_ATTEMPTS attempts, then no more')
  const failedOnly = await app.inject({ url: `/v1/webhooks/${downHook.id}/deliveries?status=failed`, headers: admin })
  t.same(failedOnly.json().data.map((d: { id: string }) => d.id), [failed.id])

  // The receiver is back: a replay sends the same change again.
  const replay = await app.inject({ method: 'POST', url: `/v1/webhooks/${downHook.id}/deliveries/${failed.id}/replay`, headers: admin })
  t.equal(replay.statusCode, 202)
  t.match(replay.json(), { id: failed.id, status: 'pending', attempts: 3 })
  const replayed = await eventually(() => settled(downHook.id, 'succeeded'), 30_000, 'the replay')
  t.match(replayed, { attempts: 4, last_response_status: 200, last_error: null })
  t.equal(down.received.length, 4)
  t.equal(down.received[3]!.body, down.received[0]!.body, 'the same change')
  t.equal(down.received[3]!.headers['webhook-id'], failed.id)
  t.ok(verifyWebhookSignature({ payload: down.received[3]!.body, header: down.received[3]!.headers['webhook-signature'] as string, secret: downHook.secret }))
})
