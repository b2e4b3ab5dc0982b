import { createHmac } from 'node:crypto'
import t from 'tap'
import { ApiError, paginate, verifyWebhookSignature } from '../../clients/typescript/src/index.js'

const secret = 'whsec_test_0123456789abcdef'
const sign = (payload: string, timestamp: number, key = secret) =>
  `t=${timestamp},v1=${createHmac('sha256', key).update(`${timestamp}.${payload}`).digest('hex')}`

t.test('webhook signatures: valid, tampered, wrong secret, too old, malformed', async (t) => {
  const payload = '{"id":"01936f0e-8a10-7cc1-9b8a-4f2a1e3c5d70","type":"event.created"}'
  const now = 1_800_000_000
  t.ok(verifyWebhookSignature({ payload, header: sign(payload, now), secret, now }))
  t.ok(verifyWebhookSignature({ payload: Buffer.from(payload), header: sign(payload, now - 299), secret, now }), 'a Buffer, within tolerance')
  t.ok(verifyWebhookSignature({ payload, header: `${sign(payload, now, 'old-secret')},v1=${sign(payload, now).split('v1=')[1]}`, secret, now }), 'one of several v1 matches, as while a secret rotates')
  t.notOk(verifyWebhookSignature({ payload: payload.replace('created', 'deleted'), header: sign(payload, now), secret, now }), 'tampered body')
  t.notOk(verifyWebhookSignature({ payload, header: sign(payload, now, 'another-secret'), secret, now }), 'wrong secret')
  t.notOk(verifyWebhookSignature({ payload, header: sign(payload, now - 301), secret, now }), 'too old')
  t.notOk(verifyWebhookSignature({ payload, header: sign(payload, now + 301), secret, now }), 'from the future')
  for (const header of [undefined, '', 'v1=abc', `t=${now}`, `t=${now},v1=zz`, `t=abc,v1=${'0'.repeat(64)}`]) {
    t.notOk(verifyWebhookSignature({ payload, header, secret, now }), `malformed: ${header}`)
  }
})

t.test('paginate follows next_cursor and raises problems', async (t) => {
  const pages: Record<string, { data: number[], next_cursor: string | null }> = {
    first: { data: [1, 2], next_cursor: 'b' },
    b: { data: [3], next_cursor: 'c' },
    c: { data: [], next_cursor: null }
  }
  const seen: (string | undefined)[] = []
  const items: number[] = []
  for await (const item of paginate(async (cursor) => { seen.push(cursor); return { data: pages[cursor ?? 'first'] } })) items.push(item)
  t.same(items, [1, 2, 3])
  t.same(seen, [undefined, 'b', 'c'])
  await t.rejects(async () => {
    for await (const _ of paginate(async () => ({ error: { detail: 'cursor is malformed', status: 400 } }))) t.fail(String(_))
  }, new ApiError({ detail: 'cursor is malformed' }))
})
