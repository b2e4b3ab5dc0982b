import { Type, type Static } from '@sinclair/typebox'
import { ACTIONS, DATE_PRECISIONS } from '../db/schema.js'
import { CompanyRef } from './companies.js'
import { Cursor, DateOnly, KnownAt, ListLimit, NextCursor, Nullable, StringEnum, Uuid, ref } from './common.js'
import { Event, eventFilters } from './events.js'

export const FACET_FIELDS = ['action', 'region', 'sector', 'country', 'year', 'month'] as const
export type FacetField = typeof FACET_FIELDS[number]

export const FacetsQuery = Type.Object({
  ...eventFilters,
  fields: Type.Optional(Type.String({
    pattern: `^(${FACET_FIELDS.join('|')})(,(${FACET_FIELDS.join('|')}))*$`,
    maxLength: 100,
    default: 'action,region,sector,year',
    description: 'The fields to count by, comma-separated: action, region, sector (of the company), country (of the company), year, month.',
    examples: ['action,region']
  }))
}, { additionalProperties: false })
export type FacetsQuery = Static<typeof FacetsQuery>

const FacetValue = Type.Object({
  value: Nullable(Type.String({ maxLength: 200 }), { description: 'The value; null for companies without a sector or country.', examples: ['exit'] }),
  count: Type.Integer({ format: 'int64', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, examples: [12] })
}, { additionalProperties: false })

export const Facets = Type.Object(
  Object.fromEntries(FACET_FIELDS.map((f) => [f, Type.Optional(Type.Array(FacetValue, { maxItems: 10_000 }))])),
  {
    additionalProperties: false,
    description: 'Exact counts of the matching events per value of each requested field, most frequent first (ties by value).',
    examples: [{ action: [{ value: 'exit', count: 12 }, { value: 'suspend', count: 5 }], region: [{ value: 'RU', count: 15 }, { value: 'BY', count: 2 }] }]
  }
)
export type Facets = Partial<Record<FacetField, Array<{ value: string | null, count: number }>>>

export const INTERVALS = ['month', 'quarter', 'year'] as const
export const GROUP_BYS = ['action', 'region', 'sector'] as const

export const TimeseriesQuery = Type.Object({
  ...eventFilters,
  interval: Type.Optional(StringEnum(INTERVALS, { default: 'month', description: 'The length of each bucket.', examples: ['month'] })),
  group_by: Type.Optional(StringEnum(GROUP_BYS, { default: 'action', description: 'What each bucket counts by.', examples: ['action'] }))
}, { additionalProperties: false })
export type TimeseriesQuery = Static<typeof TimeseriesQuery>

const Bucket = Type.Object({
  period: Type.String({ maxLength: 10, description: '`2022-03`, `2022-Q1` or `2022`.', examples: ['2022-03'] }),
  start: DateOnly({ description: 'The first day of the period.' }),
  counts: Type.Record(Type.String({ maxLength: 200 }), Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), {
    description: 'Events per group; every group seen in the series is present in every bucket, zero where it has none. ' +
      'Companies without a sector count under "unknown".',
    examples: [{ exit: 3, suspend: 5 }]
  }),
  total: Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, examples: [8] })
}, { additionalProperties: false })

export const Timeseries = Type.Object({
  interval: StringEnum(INTERVALS),
  group_by: StringEnum(GROUP_BYS),
  buckets: Type.Array(Bucket, { maxItems: 5000 })
}, {
  additionalProperties: false,
  description: 'One bucket per period from `date_from` (or the first matching event) to `date_to` (or the last), empty periods included.',
  examples: [{
    interval: 'month',
    group_by: 'action',
    buckets: [
      { period: '2022-03', start: '2022-03-01', counts: { exit: 3, suspend: 5 }, total: 8 },
      { period: '2022-04', start: '2022-04-01', counts: { exit: 0, suspend: 0 }, total: 0 }
    ]
  }]
})
export type Timeseries = Static<typeof Timeseries>

const postureFilters = {
  region: eventFilters.region,
  company_id: eventFilters.company_id,
  service: eventFilters.service,
  sector: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'The company sector, exactly.', examples: ['Energy'] })),
  country: Type.Optional(Type.String({
    format: 'iso-3166-1-alpha-2', minLength: 2, maxLength: 2, description: 'The company headquarters country.', examples: ['US']
  }))
}

export const StatusQuery = Type.Object({
  ...postureFilters,
  action: Type.Optional(Type.String({ ...eventFilters.action, description: 'Only postures with one of these actions, comma-separated.' })),
  as_of: Type.Optional(DateOnly({ description: 'The date of the postures; today (UTC) by default.', examples: ['2023-06-30'] })),
  known_at: Type.Optional(KnownAt),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type StatusQuery = Static<typeof StatusQuery>

const postureFields = {
  action: StringEnum(ACTIONS),
  date: DateOnly({ description: 'The date of the event that set the posture (the start of its period for month or year precision).' }),
  date_precision: StringEnum(DATE_PRECISIONS),
  event_id: Uuid()
}

export const Posture = Type.Object({
  company: ref(CompanyRef),
  region: Type.String({ maxLength: 6, examples: ['RU'] }),
  service: Type.String({ maxLength: 200, examples: ['All operations'] }),
  ...postureFields
}, { additionalProperties: false })

export const StatusList = Type.Object({
  data: Type.Array(Posture, { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: "Each company's posture per region and service on `as_of`: the action of its latest live event there on or before that date. " +
    'Events on the same date are ordered by when they were recorded, then by id; the last one sets the posture. ' +
    'Sorted by company name, company id, region and service.',
  examples: [{
    data: [{
      company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Amazon' },
      region: 'RU',
      service: 'Prime Video',
      action: 'suspend',
      date: '2022-03-08',
      date_precision: 'day',
      event_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6f'
    }],
    next_cursor: null
  }]
})
export type StatusList = Static<typeof StatusList>

export const StatusChangesQuery = Type.Object({
  ...postureFilters,
  from: DateOnly({ description: 'The earlier date.', examples: ['2022-06-01'] }),
  to: DateOnly({ description: 'The later date.', examples: ['2023-06-01'] }),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type StatusChangesQuery = Static<typeof StatusChangesQuery>

const PostureAt = Nullable(Type.Object(postureFields, { additionalProperties: false }), {
  description: 'The posture on that date, or null when no event had set one yet.'
})

export const StatusChanges = Type.Object({
  data: Type.Array(Type.Object({
    company: ref(CompanyRef),
    region: Type.String({ maxLength: 6, examples: ['RU'] }),
    service: Type.String({ maxLength: 200, examples: ['All operations'] }),
    before: PostureAt,
    after: PostureAt
  }, { additionalProperties: false }), { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: 'Every company, region and service whose posture (its action) on `to` differs from the one on `from`. Sorted like the status list.',
  examples: [{
    data: [{
      company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Unilever' },
      region: 'RU',
      service: 'All operations',
      before: { action: 'pause_new_business', date: '2022-03-10', date_precision: 'day', event_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d70' },
      after: { action: 'exit', date: '2024-12-04', date_precision: 'day', event_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d71' }
    }],
    next_cursor: null
  }]
})
export type StatusChanges = Static<typeof StatusChanges>

export const Timeline = Type.Object({
  company: ref(CompanyRef),
  regions: Type.Array(Type.Object({
    region: Type.String({ maxLength: 6, examples: ['RU'] }),
    events: Type.Array(ref(Event), { maxItems: 100_000, description: 'Live events in date order (then by when recorded, then id).' }),
    intervals: Type.Array(Type.Object({
      from: DateOnly(),
      to: Nullable(DateOnly(), { description: 'Exclusive end: the date of the next event for the same service; null while it holds.' }),
      service: Type.String({ maxLength: 200 }),
      ...postureFields
    }, { additionalProperties: false }), {
      maxItems: 100_000,
      description: 'The postures the events imply, per service: each event holds from its date until the next event for the same ' +
        'service. An event superseded on its own date implies no interval.'
    })
  }, { additionalProperties: false }), { maxItems: 10_000 })
}, {
  additionalProperties: false,
  description: "A company's events per region (by code) and the posture intervals they imply. Month and year precision events are placed at the start of their period, and say so in `date_precision`.",
  examples: [{
    company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Amazon' },
    regions: [{
      region: 'RU',
      events: [],
      intervals: [{ from: '2022-03-08', to: null, service: 'Prime Video', action: 'suspend', date: '2022-03-08', date_precision: 'day', event_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6f' }]
    }]
  }]
})
export type Timeline = Static<typeof Timeline>

export const MATCH_THRESHOLD = 0.5

export const MatchRequest = Type.Object({
  names: Type.Array(Type.Object({
    name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'A company name, an LEI or a Wikidata id.', examples: ['AMAZON.COM, INC.'] }),
    country: Type.Optional(Type.String({ format: 'iso-3166-1-alpha-2', minLength: 2, maxLength: 2, description: 'Headquarters, if known: candidates elsewhere score lower.', examples: ['US'] }))
  }, { additionalProperties: false }), { minItems: 1, maxItems: 100 })
}, {
  $id: 'MatchRequest',
  additionalProperties: false,
  description: 'Up to 100 names to reconcile with the companies here.',
  examples: [{ names: [{ name: 'AMAZON.COM, INC.', country: 'US' }, { name: 'Амазон' }] }]
})
export type MatchRequest = Static<typeof MatchRequest>

export const MatchResult = Type.Object({
  data: Type.Array(Type.Object({
    name: Type.String({ maxLength: 200 }),
    candidates: Type.Array(Type.Object({
      company: ref(CompanyRef),
      score: Type.Number({ minimum: 0, maximum: 1, examples: [0.92] }),
      matched_on: StringEnum(['name', 'alias', 'lei', 'wikidata_id'] as const)
    }, { additionalProperties: false }), { maxItems: 10 })
  }, { additionalProperties: false }), { maxItems: 100 })
}, {
  additionalProperties: false,
  description: `For each name in request order, up to 10 candidates scoring at least ${MATCH_THRESHOLD}, best first. ` +
    'An LEI or Wikidata id scores 1 on an exact match. A name scores by trigram similarity (0–1) with the closest name or alias, ' +
    'compared with case, accents, punctuation and legal-form words (Inc, Ltd, AG, ПАО …) removed; for a name, a known country ' +
    'that differs from the one given multiplies the score by 0.8.',
  examples: [{ data: [{ name: 'AMAZON.COM, INC.', candidates: [{ company: { id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', name: 'Amazon' }, score: 1, matched_on: 'alias' }] }] }]
})
export type MatchResult = Static<typeof MatchResult>
