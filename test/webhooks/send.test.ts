import t from 'tap'
import { parseCidrList } from '../../src/domain/addresses.js'
import { postWebhook } from '../../src/webhooks/send.js'
import { Receiver } from './receiver.js'

const loopback = parseCidrList('127.0.0.0/8,::1/128')
const send = (url: string, allowed = loopback, timeoutMs = 2000) => postWebhook(url, '{}', { 'content-type': 'application/json' }, { timeoutMs, allowed })

t.test('each attempt checks the address it connects to, after DNS', async (t) => {
  const receiver = await new Receiver().answer(204).start()
  t.teardown(() => receiver.stop())
  t.same(await send(receiver.url), { status: 204 }, 'allowed loopback')
  t.same(await send(`http://localhost:${receiver.port}/hook`), { status: 200 }, 'a name that resolves to an allowed address')
  t.match(await send(receiver.url, []), { error: 'refused: 127.0.0.1 is a loopback address' }, 'a literal without the allow-list')
  t.match(await send(`http://localhost:${receiver.port}/hook`, []), { error: /^refused: localhost resolves to .* is a loopback address$/ }, 'a name that resolves to loopback, refused at connection time')
  t.equal(receiver.received.length, 2, 'the refused attempts never reached the receiver')
})

t.test('no answer within the timeout, or no connection, is an error without a status', async (t) => {
  const receiver = await new Receiver().start()
  const { port } = receiver
  await receiver.stop()
  t.match(await send(`http://127.0.0.1:${port}/hook`), { status: undefined, error: /ECONNREFUSED/ })

  const { createServer } = await import('node:net')
  // Accepts connections and never answers.
  const silent = createServer(() => {}).listen(0, '127.0.0.1')
  await new Promise((resolve) => silent.once('listening', resolve))
  t.teardown(() => { silent.close() })
  const started = Date.now()
  t.same(await send(`http://127.0.0.1:${(silent.address() as { port: number }).port}/hook`, loopback, 300), { error: 'no response within 300 ms' })
  t.ok(Date.now() - started < 2000, 'gave up in time')
})
