import { Type, type Static } from '@sinclair/typebox'
import { CompanyRef } from './companies.js'
import { Cursor, DateOnly, DateTime, HttpUrl, ListLimit, NextCursor, Nullable, Uuid, ref } from './common.js'
import { Source } from './events.js'

export const SourceListQuery = Type.Object({
  url: Type.Optional(HttpUrl({ description: 'Find the source stored under this URL (normalised as on write: scheme and host lower-cased, fragment dropped).' })),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type SourceListQuery = Static<typeof SourceListQuery>

export const SupportedEvent = Type.Object({
  id: Uuid(),
  company: ref(CompanyRef),
  region: Type.String({ maxLength: 6, examples: ['RU'] }),
  service: Type.String({ maxLength: 200, examples: ['Retail shipping'] }),
  action: Type.String({ maxLength: 30, examples: ['suspend'] }),
  date: DateOnly(),
  quote: Nullable(Type.String({ maxLength: 2000 }), { description: 'The passage of the source that supports this event.' })
}, { additionalProperties: false, description: 'A live event that cites the source.' })

const { quote: _quote, ...sourceProperties } = Source.properties
export const SourceRecord = Type.Object({
  id: Uuid(),
  ...sourceProperties,
  created_at: DateTime(),
  updated_at: DateTime(),
  event_count: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'How many live events cite the source.', examples: [8] }),
  events: Type.Array(SupportedEvent, {
    maxItems: 100,
    description: 'The live events it supports, newest first, at most 100; `GET /v1/events?source_id=` lists them all.'
  })
}, { additionalProperties: false, description: 'A stored source, with the events that cite it.' })
export type SourceRecord = Static<typeof SourceRecord>

export const SourceList = Type.Object({
  data: Type.Array(SourceRecord, { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: 'Sources in id order (the order they were first cited); with `url`, the one source stored under it, or none.',
  examples: [{
    data: [{
      id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d70',
      url: 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine',
      publisher: 'Amazon',
      title: "Amazon's assistance in Ukraine",
      published_date: '2022-03-08',
      language: 'en',
      kind: 'company_statement',
      archived_url: null,
      license: null,
      created_at: '2026-11-26T15:11:08.123456Z',
      updated_at: '2026-11-26T15:11:08.123456Z',
      event_count: 1,
      events: [{
        id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6f',
        company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Amazon' },
        region: 'RU',
        service: 'Retail shipping',
        action: 'suspend',
        date: '2022-03-08',
        quote: null
      }]
    }],
    next_cursor: null
  }]
})
export type SourceList = Static<typeof SourceList>
