import { Type, type Static, type TObject } from '@sinclair/typebox'
import { ACTIONS, DATE_PRECISIONS, SOURCE_KINDS } from '../db/schema.js'
import { CompanyRef } from './companies.js'
import { Cursor, DateOnly, DateTime, HttpUrl, KnownAt, ListLimit, NextCursor, Nullable, StringEnum, Text, Uuid, ref } from './common.js'

const AMAZON_STATEMENT = 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine'

const sourceFields = {
  url: HttpUrl({ description: 'Absolute http(s) URL. Stored once per URL (scheme and host lower-cased, fragment dropped).', examples: [AMAZON_STATEMENT] }),
  publisher: Nullable(Type.String({ maxLength: 200 }), { examples: ['Amazon'] }),
  title: Nullable(Type.String({ maxLength: 500 }), { examples: ["Amazon's assistance in Ukraine"] }),
  published_date: Nullable(DateOnly()),
  language: Nullable(Type.String({ format: 'bcp47', maxLength: 35 }), { description: 'BCP 47 language tag.', examples: ['en'] }),
  quote: Nullable(Type.String({ maxLength: 2000 }), {
    description: 'The passage of this source that supports this event.',
    examples: ['We have suspended shipment of retail products to customers based in Russia and Belarus.']
  }),
  kind: Nullable(StringEnum(SOURCE_KINDS), {
    description: 'What the source is: a statement of the company itself, a regulatory filing, a company registry record, ' +
      'a media report or a curated dataset.',
    examples: ['company_statement']
  }),
  archived_url: Nullable(HttpUrl(), {
    description: 'A copy of the source in a web archive, for when the original moves or disappears.',
    examples: ['https://web.archive.org/web/20220308000000*/aboutamazon.com/news/community/amazons-assistance-in-ukraine']
  }),
  license: Nullable(Type.String({ maxLength: 200 }), {
    description: 'The terms the source is published under, to attribute it (e.g. a dataset\'s licence).',
    examples: ['CC BY-NC-SA 4.0']
  })
}

export const Source = Type.Object(sourceFields, {
  $id: 'Source',
  additionalProperties: false,
  description: 'A document that reports the event. Sources are stored once per URL and shared by the events that cite them: ' +
    'publisher, title, published_date, language, kind, archived_url and license keep their first known value (a later citation only fills gaps); ' +
    'the quote belongs to the citing event.'
})
export type Source = Static<typeof Source>

export const SourceInput = Type.Object({
  url: sourceFields.url,
  publisher: Type.Optional(sourceFields.publisher),
  title: Type.Optional(sourceFields.title),
  published_date: Type.Optional(sourceFields.published_date),
  language: Type.Optional(sourceFields.language),
  quote: Type.Optional(sourceFields.quote),
  kind: Type.Optional(sourceFields.kind),
  archived_url: Type.Optional(sourceFields.archived_url),
  license: Type.Optional(sourceFields.license)
}, {
  $id: 'SourceInput',
  additionalProperties: false,
  description: 'A source as sent by a client; omitted fields are null.',
  examples: [{ url: AMAZON_STATEMENT, publisher: 'Amazon', language: 'en' }]
})
export type SourceInput = Static<typeof SourceInput>

const region = Type.String({
  format: 'iso-3166-region',
  minLength: 2,
  maxLength: 6,
  description: 'ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision code, checked against the real lists; upper-cased on input.',
  examples: ['RU']
})
const service = Text(200, { description: 'The product line, brand or activity affected.', examples: ['Retail shipping'] })
const action = StringEnum(ACTIONS, {
  description: 'exit: withdraws for good (Yale A); suspend: halts, may return (B); scale_back: reduces some significant operations (C); ' +
    'pause_new_business: no new customers, orders or investment (D); continue: business as usual (F); resume: returns after an exit or suspension.',
  examples: ['suspend']
})
const date = DateOnly({ description: 'When the action was announced or first reported.' })
const datePrecision = StringEnum(DATE_PRECISIONS, {
  description: 'With month or year, `date` is the first day of that period.', examples: ['day']
})
const effectiveDate = Nullable(DateOnly(), { description: 'When the action takes or took effect, if known.', examples: ['2022-03-10'] })
const summary = Nullable(Type.String({ maxLength: 2000 }), {
  description: 'Plain text.', examples: ['Amazon suspended shipment of retail products to customers in Russia and Belarus.']
})
const sources = Type.Array(ref(SourceInput), { minItems: 1, maxItems: 20, description: 'Between 1 and 20 sources, distinct URLs.' })
const externalId = Nullable(Type.String({ minLength: 1, maxLength: 200 }), {
  description: "The caller's own key; unique among events.", examples: ['newsroom-2022-0042']
})

export const Event = Type.Object({
  id: Uuid({ description: 'Server-assigned UUIDv7.' }),
  company_id: Uuid(),
  company: ref(CompanyRef),
  region: Type.String({ maxLength: 6, examples: ['RU'] }),
  service: Type.String({ maxLength: 200, examples: ['Retail shipping'] }),
  action,
  date: DateOnly(),
  date_precision: datePrecision,
  effective_date: effectiveDate,
  summary,
  sources: Type.Array(ref(Source), { maxItems: 20 }),
  source_count: Type.Integer({ format: 'int32', minimum: 0, maximum: 20, description: 'How many sources support the event.', examples: [1] }),
  external_id: externalId,
  created_at: DateTime(),
  updated_at: DateTime(),
  version: Type.Integer({ format: 'int32', minimum: 1, maximum: 2147483647, examples: [1] })
}, {
  $id: 'Event',
  additionalProperties: false,
  description: 'A market-exit event: a company took an action on a service in a region on a date.',
  examples: [{
    id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6f',
    company_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
    company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Amazon' },
    region: 'RU',
    service: 'Retail shipping',
    action: 'suspend',
    date: '2022-03-08',
    date_precision: 'day',
    effective_date: null,
    summary: 'Amazon suspended shipment of retail products to customers in Russia.',
    sources: [{
      url: AMAZON_STATEMENT,
      publisher: 'Amazon',
      title: "Amazon's assistance in Ukraine",
      published_date: '2022-03-08',
      language: 'en',
      quote: null,
      kind: 'company_statement',
      archived_url: null,
      license: null
    }],
    source_count: 1,
    external_id: null,
    created_at: '2026-11-26T15:11:08.123456Z',
    updated_at: '2026-11-26T15:11:08.123456Z',
    version: 1
  }]
})
export type Event = Static<typeof Event>

export const EventCreate = Type.Object({
  company_id: Uuid({ description: 'An existing company that is not deleted.' }),
  region,
  service,
  action,
  date,
  date_precision: Type.Optional(datePrecision),
  effective_date: Type.Optional(effectiveDate),
  summary: Type.Optional(summary),
  sources,
  external_id: Type.Optional(externalId)
}, {
  $id: 'EventCreate',
  additionalProperties: false,
  description: 'A new event. Server-owned fields (id, company, version, timestamps) are refused.',
  examples: [{
    company_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
    region: 'RU',
    service: 'Prime Video',
    action: 'suspend',
    date: '2022-03-08',
    sources: [{ url: AMAZON_STATEMENT, publisher: 'Amazon' }]
  }]
})
export type EventCreate = Static<typeof EventCreate>

export const EventUpdate = Type.Object({
  company_id: Type.Optional(Uuid()),
  region: Type.Optional(region),
  service: Type.Optional(service),
  action: Type.Optional(action),
  date: Type.Optional(date),
  date_precision: Type.Optional(datePrecision),
  effective_date: Type.Optional(effectiveDate),
  summary: Type.Optional(summary),
  sources: Type.Optional(sources),
  external_id: Type.Optional(externalId)
}, {
  $id: 'EventUpdate',
  additionalProperties: false,
  description: 'A JSON Merge Patch (RFC 7396): present fields replace, `null` clears a nullable field, `sources` is replaced whole.',
  examples: [{ action: 'exit', effective_date: '2022-06-01' }]
})
export type EventUpdate = Static<typeof EventUpdate>

export const EVENT_SORTS = ['-date', 'date', '-created_at', 'created_at', '-updated_at', 'updated_at'] as const
export type EventSort = typeof EVENT_SORTS[number]

const UUID_LIST = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
const REGION_CODE = '[A-Za-z]{2}(-[A-Za-z0-9]{1,3})?'
const commaList = (item: string) => `^${item}(,${item})*$`

/** The filters of `GET /v1/events`, shared by every query over events. */
export const eventFilters = {
  company_id: Type.Optional(Type.String({
    pattern: commaList(UUID_LIST), maxLength: 3700, description: 'One or more company ids, comma-separated (at most 100).', examples: ['01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e']
  })),
  company: Type.Optional(Type.String({
    minLength: 1, maxLength: 200, description: 'Part of a company name or alias, ignoring case and accents.', examples: ['amazon']
  })),
  region: Type.Optional(Type.String({
    pattern: commaList(REGION_CODE), maxLength: 700, description: 'One or more region codes, comma-separated (at most 100); a country also matches its subdivisions.', examples: ['RU,BY']
  })),
  action: Type.Optional(Type.String({
    pattern: commaList(`(${ACTIONS.join('|')})`), maxLength: 200, description: 'One or more actions, comma-separated.', examples: ['exit,suspend']
  })),
  service: Type.Optional(Type.String({
    minLength: 1, maxLength: 200, description: 'Case-insensitive substring of `service`.', examples: ['video']
  })),
  source_id: Type.Optional(Uuid({ description: 'Only events that cite this source (see `GET /v1/sources`).' })),
  date_from: Type.Optional(DateOnly({ description: 'Inclusive lower bound on `date`.', examples: ['2022-03-01'] })),
  date_to: Type.Optional(DateOnly({ description: 'Inclusive upper bound on `date`.', examples: ['2022-03-31'] })),
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 500,
    description: 'Full-text search over company names and aliases, service, summary, source titles and quotes; ' +
      'accent-insensitive, stemmed for English, French and Russian. Supports "quoted phrases", `or` and `-exclusion`.',
    examples: ['livraisons']
  }))
}
export type EventFilters = Static<TObject<typeof eventFilters>>

export const EventListQuery = Type.Object({
  ...eventFilters,
  known_at: Type.Optional(KnownAt),
  sort: Type.Optional(StringEnum(EVENT_SORTS, {
    default: '-date', description: 'Sort order; `-` means descending. Ties are broken by id.', examples: ['-date']
  })),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type EventListQuery = Static<typeof EventListQuery>

export const EventList = Type.Object({
  data: Type.Array(ref(Event), { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: 'A page of events.',
  examples: [{ data: [Event.examples[0]], next_cursor: null }]
})
export type EventList = Static<typeof EventList>
