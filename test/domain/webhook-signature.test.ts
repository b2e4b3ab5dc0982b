import { createHmac } from 'node:crypto'
import t from 'tap'
import { verifyWebhookSignature } from '../../clients/typescript/src/index.js'
import { signWebhook } from '../../src/domain/webhook-signature.js'

t.test('a signature is t=<unix>,v1=<hex HMAC-SHA256 of "t.body">, which the SDK verifies', async (t) => {
  const body = '{"id":"x","type":"event.created"}'
  const header = signWebhook('whsec_test-secret-123456', body, 1_764_000_000.9)
  const expected = createHmac('sha256', 'whsec_test-secret-123456').update(`1764000000.${body}`).digest('hex')
  t.equal(header, `t=1764000000,v1=${expected}`)
  t.ok(verifyWebhookSignature({ payload: body, header, secret: 'whsec_test-secret-123456', now: 1_764_000_010 }))
  t.notOk(verifyWebhookSignature({ payload: `${body} `, header, secret: 'whsec_test-secret-123456', now: 1_764_000_010 }), 'another body')
  t.notOk(verifyWebhookSignature({ payload: body, header, secret: 'whsec_other-secret-123456', now: 1_764_000_010 }), 'another secret')
  t.notOk(verifyWebhookSignature({ payload: body, header, secret: 'whsec_test-secret-123456', now: 1_764_000_400 }), 'too old')
})
