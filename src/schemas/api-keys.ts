import { Type, type Static } from '@sinclair/typebox'
import { SCOPES } from '../db/schema.js'
import { Cursor, DateTime, ListLimit, NextCursor, Nullable, StringEnum, Text, Uuid, ref } from './common.js'

const scopes = Type.Array(StringEnum(SCOPES), {
  minItems: 1,
  maxItems: 3,
  uniqueItems: true,
  description: '`read` reads, `write` also writes, `admin` also manages API keys.',
  examples: [['read', 'write']]
})

const example = {
  id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
  name: 'partner-sync',
  prefix: 'mxk_Q2x9aB',
  scopes: ['read', 'write'],
  created_at: '2026-11-26T15:11:08.123456Z',
  last_used_at: null,
  revoked_at: null
}

export const ApiKey = Type.Object({
  id: Uuid({ description: 'Server-assigned UUIDv7.' }),
  name: Type.String({ maxLength: 100, description: 'Unique among active keys.', examples: ['partner-sync'] }),
  prefix: Type.String({ maxLength: 20, description: 'The first characters of the secret, to recognise a key; not enough to use it.', examples: ['mxk_Q2x9aB'] }),
  scopes,
  created_at: DateTime(),
  last_used_at: Nullable(DateTime(), { description: 'When the key last authenticated a request, to the minute; null if never.' }),
  revoked_at: Nullable(DateTime(), { description: 'When the key was revoked; null while it works.' })
}, { $id: 'ApiKey', additionalProperties: false, description: 'An API key, without its secret.', examples: [example] })
export type ApiKey = Static<typeof ApiKey>

export const ApiKeyCreate = Type.Object({
  name: Text(100, { description: 'What the key is for, 1–100 characters; unique among active keys.', examples: ['partner-sync'] }),
  scopes
}, {
  $id: 'ApiKeyCreate',
  additionalProperties: false,
  description: 'A new API key.',
  examples: [{ name: 'partner-sync', scopes: ['read', 'write'] }]
})
export type ApiKeyCreate = Static<typeof ApiKeyCreate>

export const ApiKeyCreated = Type.Object({
  ...ApiKey.properties,
  key: Type.String({ maxLength: 200, description: 'The secret: send it as `Authorization: Bearer <key>`. Shown in this response only; store it now.', examples: ['mxk_Q2x9aB…'] })
}, {
  additionalProperties: false,
  description: 'The new key, with its secret.',
  examples: [{ ...example, key: 'mxk_Q2x9aBv7cR1sT3uW5yZ8dF0gH2jK4lM6nP9qS1tV3w' }]
})
export type ApiKeyCreated = Static<typeof ApiKeyCreated>

export const ApiKeyListQuery = Type.Object({
  revoked: Type.Optional(Type.Boolean({ description: '`true`: revoked keys only; `false`: active keys only; absent: both.', examples: [false] })),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type ApiKeyListQuery = Static<typeof ApiKeyListQuery>

export const ApiKeyList = Type.Object({
  data: Type.Array(ref(ApiKey), { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: 'A page of API keys, oldest first.',
  examples: [{ data: [example], next_cursor: null }]
})
export type ApiKeyList = Static<typeof ApiKeyList>
