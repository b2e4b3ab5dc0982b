import t from 'tap'
import { verifyWebhookSignature } from '../../clients/typescript/src/index.js'
import { buildApp, type App } from '../../src/app.js'
import { reopenableDatabase } from '../database.js'
import { authHeader, testConfig } from '../helper.js'
import { deliveringEnv, deliveries, eventBody, post, subscribe } from './helpers.js'
import { Receiver, eventually } from './receiver.js'

// Deliveries live in the database (the delivery rows, pg-boss's jobs, the dispatch cursor), not in a process:
// what one instance queued, another instance started later on the same database delivers.
t.test('queued deliveries survive a restart: they arrive once a new app runs on the same database', async (t) => {
  const store = await reopenableDatabase()
  let app: App | undefined
  t.teardown(async () => { await app?.close(); await store.drop() })
  const open = async (env: Record<string, string>) => {
    app = await buildApp(testConfig({ ...deliveringEnv, ...env }), { database: await store.open(), logger: false })
    await app.ready()
    return app
  }

  // The receiver is down: it had a port, and closed it.
  const receiver = await new Receiver().start()
  await receiver.stop()

  const first = await open({})
  const admin = await authHeader(first, ['admin'])
  const writer = await authHeader(first, ['read', 'write'])
  const hook = await subscribe(first, admin, { url: receiver.url, filters: { action: ['exit'] } })
  const company = await post(first, writer, '/v1/companies', { name: 'Restart Co' })
  const before = await post(first, writer, '/v1/events', eventBody(company.id))
  const [attempted] = await eventually(async () => {
    const log = await deliveries(first, admin, hook.id)
    return log[0] && log[0].attempts >= 1 ? log : undefined
  }, 30_000, 'a first, failed attempt')
  t.match(attempted, { status: 'pending', last_response_status: null, last_error: /ECONNREFUSED/ })
  await first.close()

  // A change made while no instance delivers: only the dispatch cursor will find it.
  const quiet = await open({ WEBHOOKS_ENABLED: 'false' })
  const during = await post(quiet, writer, '/v1/events', eventBody(company.id, { region: 'BY' }))
  await quiet.close()

  await receiver.start()
  t.teardown(() => receiver.stop())
  const second = await open({})
  const received = await eventually(() => receiver.received.length >= 2 ? receiver.received : undefined, 45_000, 'both deliveries after the restart')
  t.same(received.map((r) => JSON.parse(r.body).resource_id).sort(), [before.id, during.id].sort())
  t.ok(received.every((r) => verifyWebhookSignature({ payload: r.body, header: r.headers['webhook-signature'] as string, secret: hook.secret })))
  const log = await eventually(async () => {
    const entries = await deliveries(second, admin, hook.id)
    return entries.length === 2 && entries.every((d) => d.status === 'succeeded') ? entries : undefined
  }, 30_000, 'the log to settle')
  t.same(log.map((d) => d.attempts), [2, 1], 'the failed attempt before the restart is counted')
  t.equal(receiver.received.length, 2, 'each delivered once')
})
