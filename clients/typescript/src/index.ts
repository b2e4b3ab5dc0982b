import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto'
import createFetchClient, { type Client } from 'openapi-fetch'
import type { components, operations, paths } from './schema.js'

export type { components, operations, paths }
export type Event = components['schemas']['Event']
export type Company = components['schemas']['Company']
export type Change = components['schemas']['Change']
export type Problem = components['schemas']['Problem']
export type Webhook = components['schemas']['Webhook']
export type WebhookDelivery = components['schemas']['WebhookDelivery']

/** The media types the client reads: JSON answers and problem details. */
type JsonMedia = 'application/json' | 'application/problem+json'

export interface ClientOptions {
  /** Where the API is, e.g. `https://api.example.org`. */
  baseUrl: string
  /** An API key; reads are public unless the server requires one. */
  apiKey?: string
  fetch?: typeof globalThis.fetch
}

/** A typed client for every operation of the API (openapi-fetch over the generated `paths`), typed for JSON answers; CSV and NDJSON exports are plain `fetch` with an `Accept` header. */
export function createClient (options: ClientOptions): Client<paths, JsonMedia> {
  return createFetchClient<paths, JsonMedia>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: options.apiKey === undefined ? {} : { authorization: `Bearer ${options.apiKey}` }
  })
}

/** A fresh `Idempotency-Key`: send the same one again to retry a POST safely. */
export function newIdempotencyKey (): string {
  return randomUUID()
}

interface Page<T> { data?: { data: T[], next_cursor: string | null }, error?: unknown }

/**
 * Every item of a keyset-paginated list, following `next_cursor` until it is null. `page` fetches one page
 * given the cursor (undefined for the first), e.g. `(cursor) => client.GET('/v1/events', { params: { query: { region: 'RU', cursor } } })`.
 */
export async function * paginate<T> (page: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T> {
  let cursor: string | undefined
  for (;;) {
    const { data, error } = await page(cursor)
    if (error !== undefined || data === undefined) throw new ApiError(error)
    yield * data.data
    if (data.next_cursor === null) return
    cursor = data.next_cursor
  }
}

/** An error answer of the API, with its RFC 9457 problem. */
export class ApiError extends Error {
  constructor (readonly problem: unknown) {
    super(typeof problem === 'object' && problem !== null && 'detail' in problem ? String(problem.detail) : 'The API answered with an error')
  }
}

export interface WebhookSignatureCheck {
  /** The request body exactly as received (before any JSON parsing). */
  payload: string | Buffer
  /** The `Webhook-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>` (several `v1` while a secret rotates). */
  header: string | undefined
  secret: string
  /** How old a signature may be, against replays; 5 minutes by default. */
  toleranceSeconds?: number
  /** The current time in Unix seconds, for tests. */
  now?: number
}

/** True when a webhook delivery was signed with the secret, recently: HMAC-SHA256 of `<t>.<payload>`, compared in constant time. */
export function verifyWebhookSignature ({ payload, header, secret, toleranceSeconds = 300, now = Date.now() / 1000 }: WebhookSignatureCheck): boolean {
  if (header === undefined) return false
  const parts = header.split(',').map((part) => part.trim().split('='))
  const timestamp = parts.find(([key]) => key === 't')?.[1]
  if (timestamp === undefined || !/^\d{1,12}$/.test(timestamp)) return false
  if (Math.abs(now - Number(timestamp)) > toleranceSeconds) return false
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(payload).digest()
  return parts.some(([key, value]) => {
    if (key !== 'v1' || value === undefined || !/^[0-9a-f]{64}$/.test(value)) return false
    return timingSafeEqual(Buffer.from(value, 'hex'), expected)
  })
}
