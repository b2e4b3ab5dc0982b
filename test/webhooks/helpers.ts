import type { App } from '../../src/app.js'
import type { WebhookDelivery } from '../../src/schemas/webhooks.js'

/** Settings for apps that deliver: to loopback receivers, with short delays. */
export const deliveringEnv = {
  WEBHOOKS_ENABLED: 'true',
  WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
  WEBHOOK_POLL_INTERVAL_MS: '500',
  WEBHOOK_RETRY_DELAY_SECONDS: '1',
  WEBHOOK_MAX_ATTEMPTS: '3',
  WEBHOOK_TIMEOUT_MS: '2000'
}

export async function subscribe (app: App, headers: Record<string, string>, payload: object): Promise<{ id: string, secret: string }> {
  const res = await app.inject({ method: 'POST', url: '/v1/webhooks', headers, payload })
  if (res.statusCode !== 201) throw new Error(`subscribing answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

export async function deliveries (app: App, headers: Record<string, string>, id: string): Promise<WebhookDelivery[]> {
  const res = await app.inject({ url: `/v1/webhooks/${id}/deliveries`, headers })
  if (res.statusCode !== 200) throw new Error(`the delivery log answered ${res.statusCode}: ${res.body}`)
  return res.json().data
}

export async function post (app: App, headers: Record<string, string>, url: string, payload: object) {
  const res = await app.inject({ method: 'POST', url, headers, payload })
  if (res.statusCode !== 201) throw new Error(`POST ${url} answered ${res.statusCode}: ${res.body}`)
  return res.json()
}

export const eventBody = (companyId: string, overrides: object = {}) => ({
  company_id: companyId,
  region: 'RU',
  service: 'Retail',
  action: 'exit',
  date: '2022-03-08',
  sources: [{ url: `https://example.com/${Math.random()}` }],
  ...overrides
})
