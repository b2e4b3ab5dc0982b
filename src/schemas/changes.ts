import { Type, type Static } from '@sinclair/typebox'
import { Company } from './companies.js'
import { DateTime, StringEnum, Uuid, ref } from './common.js'
import { Event } from './events.js'

export const CHANGE_TYPES = [
  'event.created', 'event.updated', 'event.deleted', 'event.restored',
  'company.created', 'company.updated', 'company.deleted', 'company.restored'
] as const
export type ChangeType = typeof CHANGE_TYPES[number]

const FeedCursor = Type.String({
  minLength: 1,
  maxLength: 200,
  description: 'A `next_cursor` of this feed. Cursors never expire while the changes after them are retained.',
  examples: ['eyJ0IjoiNzQ4IiwiaSI6IjAxOTM2ZjBlLTdkNWMtN2NjMS05YjhhLTRmMmExZTNjNWQ2ZSJ9']
})

export const ChangeListQuery = Type.Object({
  after: Type.Optional(FeedCursor),
  limit: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: 1000, default: 100, description: 'Most changes to return.', examples: [100] }))
}, { additionalProperties: false })
export type ChangeListQuery = Static<typeof ChangeListQuery>

export const Change = Type.Object({
  id: Uuid({ description: 'The change\'s id; it is also the id of the revision it records, and a webhook delivery\'s idempotency key.' }),
  type: StringEnum(CHANGE_TYPES, { description: 'What happened, as `<resource>.<operation>`.', examples: ['event.created'] }),
  resource_id: Uuid({ description: 'The event or company that changed.' }),
  version: Type.Integer({ format: 'int32', minimum: 1, maximum: 2147483647, description: 'The resource\'s version after the change.', examples: [1] }),
  occurred_at: DateTime({ description: 'When the writing transaction started (UTC, microseconds).' }),
  data: Type.Union([ref(Event), ref(Company), Type.Null()], {
    description: 'The resource as it was right after the change; null for a delete.'
  })
}, { $id: 'Change', additionalProperties: false, description: 'One create, update, delete or restore of an event or a company.' })
export type Change = Static<typeof Change>

export const ChangeList = Type.Object({
  data: Type.Array(ref(Change), { maxItems: 1000 }),
  next_cursor: Type.String({
    maxLength: 200,
    description: 'Pass as `after` to continue. Never null: an empty page returns the cursor it was given, to poll again later.'
  })
}, {
  additionalProperties: false,
  description: 'Changes in feed order, oldest first.',
  examples: [{
    data: [{
      id: '01936f0e-8a10-7cc1-9b8a-4f2a1e3c5d70',
      type: 'company.deleted',
      resource_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
      version: 3,
      occurred_at: '2022-03-08T14:05:09.123456Z',
      data: null
    }],
    next_cursor: 'eyJ0IjoiNzQ4IiwiaSI6IjAxOTM2ZjBlLThhMTAtN2NjMS05YjhhLTRmMmExZTNjNWQ3MCJ9'
  }]
})
export type ChangeList = Static<typeof ChangeList>
