import { Type, type Static } from '@sinclair/typebox'
import { ACTIONS, DELIVERY_STATUSES } from '../db/schema.js'
import { CHANGE_TYPES } from './changes.js'
import { Cursor, DateTime, HttpUrl, ListLimit, NextCursor, Nullable, StringEnum, Uuid, ref } from './common.js'

const subscriptionId = '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'
const filtersExample = { region: ['RU', 'BY'], action: ['exit', 'suspend'] }
const example = {
  id: subscriptionId,
  url: 'https://partner.example.com/hooks/market-exits',
  filters: filtersExample,
  created_at: '2026-11-26T15:11:08.123456Z'
}

export const WebhookFilters = Type.Object({
  company_id: Type.Optional(Type.Array(Uuid(), { minItems: 1, maxItems: 100, uniqueItems: true, description: 'Only changes of these companies and of their events.' })),
  region: Type.Optional(Type.Array(Type.String({ format: 'iso-3166-region', maxLength: 6, examples: ['RU'] }), {
    minItems: 1,
    maxItems: 100,
    uniqueItems: true,
    description: 'Only events in these regions (ISO 3166-1 alpha-2 or 3166-2, upper-cased on input); a country also matches its subdivisions. Company changes have no region, so they never match this filter.',
    examples: [['RU', 'BY']]
  })),
  action: Type.Optional(Type.Array(StringEnum(ACTIONS), {
    minItems: 1,
    maxItems: 6,
    uniqueItems: true,
    description: 'Only events with these actions. Company changes have no action, so they never match this filter.',
    examples: [['exit', 'suspend']]
  }))
}, {
  $id: 'WebhookFilters',
  additionalProperties: false,
  description: 'Which changes to deliver: every given list must match, an absent list matches everything; no filters, every change.',
  examples: [filtersExample]
})
export type WebhookFilters = Static<typeof WebhookFilters>

export const Webhook = Type.Object({
  id: Uuid({ description: 'Server-assigned UUIDv7.' }),
  url: Type.String({ maxLength: 2000, description: 'Where deliveries are POSTed.', examples: [example.url] }),
  filters: ref(WebhookFilters),
  created_at: DateTime()
}, { $id: 'Webhook', additionalProperties: false, description: 'A webhook subscription, without its secret.', examples: [example] })
export type Webhook = Static<typeof Webhook>

export const WebhookCreate = Type.Object({
  url: HttpUrl({ maxLength: 2000, description: 'An absolute http(s) URL on a public address; private, loopback and link-local targets are refused (422).', examples: [example.url] }),
  secret: Type.Optional(Type.String({
    minLength: 16,
    maxLength: 200,
    pattern: '^[\\x21-\\x7E]+$',
    description: 'The signing secret, 16–200 printable ASCII characters; when absent one is generated and returned once.',
    examples: ['whsec_my-own-secret-of-some-length']
  })),
  filters: Type.Optional(ref(WebhookFilters))
}, {
  $id: 'WebhookCreate',
  additionalProperties: false,
  description: 'A new webhook subscription.',
  examples: [{ url: example.url, filters: filtersExample }]
})
export type WebhookCreate = Static<typeof WebhookCreate>

export const WebhookCreated = Type.Object({
  ...Webhook.properties,
  secret: Type.String({ maxLength: 200, description: 'The signing secret. Shown in this response only; store it now.', examples: ['whsec_Q2x9aBv7cR1sT3uW5yZ8dF0gH2jK4lM6nP9qS1tV3w'] })
}, {
  additionalProperties: false,
  description: 'The new subscription, with its secret.',
  examples: [{ ...example, secret: 'whsec_Q2x9aBv7cR1sT3uW5yZ8dF0gH2jK4lM6nP9qS1tV3w' }]
})
export type WebhookCreated = Static<typeof WebhookCreated>

export const WebhookListQuery = Type.Object({
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type WebhookListQuery = Static<typeof WebhookListQuery>

export const WebhookList = Type.Object({
  data: Type.Array(ref(Webhook), { maxItems: 200 }),
  next_cursor: NextCursor
}, { additionalProperties: false, description: 'A page of webhook subscriptions, oldest first.', examples: [{ data: [example], next_cursor: null }] })
export type WebhookList = Static<typeof WebhookList>

const deliveryExample = {
  id: '01936f0e-9b21-7cc1-9b8a-4f2a1e3c5d71',
  subscription_id: subscriptionId,
  change_id: '01936f0e-8a10-7cc1-9b8a-4f2a1e3c5d70',
  change_type: 'event.created',
  status: 'succeeded',
  attempts: 2,
  last_attempt_at: '2026-11-26T15:12:40.123456Z',
  last_response_status: 200,
  last_error: null,
  created_at: '2026-11-26T15:12:08.123456Z',
  delivered_at: '2026-11-26T15:12:40.223456Z'
}

export const WebhookDelivery = Type.Object({
  id: Uuid({ description: 'The delivery id, sent as the `Webhook-Id` header: a receiver that sees one twice has it already.' }),
  subscription_id: Uuid(),
  change_id: Uuid({ description: 'The change delivered (its `id` in the change feed).' }),
  change_type: StringEnum(CHANGE_TYPES, { examples: ['event.created'] }),
  status: StringEnum(DELIVERY_STATUSES, {
    description: '`pending`: not yet acknowledged, attempts continue; `succeeded`: the receiver answered 2xx; `failed`: every attempt failed (or the subscription was deleted).',
    examples: ['succeeded']
  }),
  attempts: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'Attempts so far, replays included.', examples: [2] }),
  last_attempt_at: Nullable(DateTime(), { description: 'When the latest attempt ended; null before the first.' }),
  last_response_status: Nullable(Type.Integer({ format: 'int32', minimum: 0, maximum: 999 }), { description: 'The HTTP status of the latest attempt; null if there was no response.', examples: [200] }),
  last_error: Nullable(Type.String({ maxLength: 1000 }), { description: 'Why the latest attempt failed, when it did.', examples: [null] }),
  created_at: DateTime(),
  delivered_at: Nullable(DateTime(), { description: 'When the receiver acknowledged it; null until then.' })
}, { $id: 'WebhookDelivery', additionalProperties: false, description: 'One change sent to one subscription, with its latest attempt.', examples: [deliveryExample] })
export type WebhookDelivery = Static<typeof WebhookDelivery>

export const WebhookDeliveryParams = Type.Object({
  id: Uuid({ description: 'The subscription id.' }),
  delivery_id: Uuid({ description: 'The delivery id.' })
}, { additionalProperties: false })
export type WebhookDeliveryParams = Static<typeof WebhookDeliveryParams>

export const WebhookDeliveryListQuery = Type.Object({
  status: Type.Optional(StringEnum(DELIVERY_STATUSES, { description: 'Only deliveries in this status.', examples: ['failed'] })),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type WebhookDeliveryListQuery = Static<typeof WebhookDeliveryListQuery>

export const WebhookDeliveryList = Type.Object({
  data: Type.Array(ref(WebhookDelivery), { maxItems: 200 }),
  next_cursor: NextCursor
}, { additionalProperties: false, description: 'A page of the delivery log, oldest first.', examples: [{ data: [deliveryExample], next_cursor: null }] })
export type WebhookDeliveryList = Static<typeof WebhookDeliveryList>
