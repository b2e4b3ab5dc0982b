import { createHmac } from 'node:crypto'

/**
 * The `Webhook-Signature` header of a delivery, as Stripe writes it: `t=<unix seconds>,v1=<hex HMAC-SHA256>`
 * of `<t>.<body>`. The timestamp is signed too, so that a receiver can refuse an old delivery replayed.
 */
export function signWebhook (secret: string, body: string, unixSeconds: number): string {
  const t = Math.floor(unixSeconds)
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')
  return `t=${t},v1=${v1}`
}
