import { Type, type Static } from '@sinclair/typebox'
import { Cursor, DateTime, HttpUrl, ListLimit, NextCursor, Nullable, StringEnum, Text, Uuid, ref } from './common.js'

const name = Text(200, { description: 'The name, 1–200 characters after trimming.', examples: ['Amazon'] })
const aliases = Type.Array(Text(200), {
  maxItems: 50,
  description: 'Other names, translations, former names and tickers.',
  examples: [['Amazon.com, Inc.', 'Амазон', 'AMZN']]
})
const country = Nullable(Type.String({ format: 'iso-3166-1-alpha-2', minLength: 2, maxLength: 2 }), {
  description: 'Headquarters, ISO 3166-1 alpha-2; upper-cased on input.', examples: ['US']
})
const sector = Nullable(Type.String({ maxLength: 100 }), { description: 'Free text.', examples: ['Consumer Discretionary'] })
const lei = Nullable(Type.String({ format: 'lei', minLength: 20, maxLength: 20 }), {
  description: 'ISO 17442 Legal Entity Identifier, check digits verified; upper-cased on input. Unique.',
  examples: ['ZXTILKJKG63JELOEG630']
})
const wikidataId = Nullable(Type.String({ pattern: '^Q[1-9][0-9]*$', maxLength: 20 }), {
  description: 'Wikidata item id. Unique.', examples: ['Q3884']
})
const website = Nullable(HttpUrl(), { description: 'Absolute http(s) URL.', examples: ['https://www.aboutamazon.com'] })

export const CompanyRef = Type.Object({
  id: Uuid(),
  name: Type.String({ maxLength: 200, examples: ['Amazon'] })
}, { $id: 'CompanyRef', additionalProperties: false, description: 'The id and name of a company, embedded in other resources.' })
export type CompanyRef = Static<typeof CompanyRef>

export const Company = Type.Object({
  id: Uuid({ description: 'Server-assigned UUIDv7.' }),
  name: Type.String({ maxLength: 200, examples: ['Amazon'] }),
  aliases: Type.Array(Type.String({ maxLength: 200 }), { maxItems: 50, examples: [['Amazon.com, Inc.', 'Амазон']] }),
  country,
  sector,
  lei,
  wikidata_id: wikidataId,
  website,
  created_at: DateTime(),
  updated_at: DateTime(),
  version: Type.Integer({ format: 'int32', minimum: 1, maximum: 2147483647, description: 'Starts at 1 and grows by 1 with every change.', examples: [1] })
}, {
  $id: 'Company',
  additionalProperties: false,
  description: 'A company that takes market-exit actions.',
  examples: [{
    id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
    name: 'Amazon',
    aliases: ['Amazon.com, Inc.', 'Амазон'],
    country: 'US',
    sector: 'Consumer Discretionary',
    lei: 'ZXTILKJKG63JELOEG630',
    wikidata_id: 'Q3884',
    website: 'https://www.aboutamazon.com',
    created_at: '2026-11-26T15:11:08.123456Z',
    updated_at: '2026-11-26T15:11:08.123456Z',
    version: 1
  }]
})
export type Company = Static<typeof Company>

export const CompanyCreate = Type.Object({
  name,
  aliases: Type.Optional(aliases),
  country: Type.Optional(country),
  sector: Type.Optional(sector),
  lei: Type.Optional(lei),
  wikidata_id: Type.Optional(wikidataId),
  website: Type.Optional(website)
}, {
  $id: 'CompanyCreate',
  additionalProperties: false,
  description: 'A new company. Server-owned fields (id, version, timestamps) are refused.',
  examples: [{ name: 'Amazon', aliases: ['Amazon.com, Inc.'], country: 'US', sector: 'Consumer Discretionary', wikidata_id: 'Q3884' }]
})
export type CompanyCreate = Static<typeof CompanyCreate>

export const CompanyUpdate = Type.Object({
  name: Type.Optional(name),
  aliases: Type.Optional(aliases),
  country: Type.Optional(country),
  sector: Type.Optional(sector),
  lei: Type.Optional(lei),
  wikidata_id: Type.Optional(wikidataId),
  website: Type.Optional(website)
}, {
  $id: 'CompanyUpdate',
  additionalProperties: false,
  description: 'A JSON Merge Patch (RFC 7396): present fields replace, `null` clears a nullable field, arrays are replaced whole.',
  examples: [{ sector: 'Retail', lei: null }]
})
export type CompanyUpdate = Static<typeof CompanyUpdate>

export const COMPANY_SORTS = ['relevance', 'name', '-name', 'created_at', '-created_at', 'updated_at', '-updated_at'] as const
export type CompanySort = typeof COMPANY_SORTS[number]

export const CompanyListQuery = Type.Object({
  q: Type.Optional(Type.String({
    minLength: 1,
    maxLength: 200,
    description: 'Companies whose name or an alias contains this text (ignoring case and accents), or resembles it: trigram ' +
      'similarity of the names with case, accents, punctuation and legal-form words removed, in Latin or Cyrillic script.',
    examples: ['amazon']
  })),
  country: Type.Optional(Type.String({ format: 'iso-3166-1-alpha-2', minLength: 2, maxLength: 2, description: 'Headquarters country.', examples: ['US'] })),
  sort: Type.Optional(StringEnum(COMPANY_SORTS, {
    description: 'Sort order; `-` means descending, `relevance` is best match first (with `q` only). ' +
      'Default: `relevance` with `q`, `name` without. Ties are broken by id.',
    examples: ['name']
  })),
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type CompanyListQuery = Static<typeof CompanyListQuery>

export const CompanyList = Type.Object({
  data: Type.Array(ref(Company), { maxItems: 200 }),
  next_cursor: NextCursor
}, {
  additionalProperties: false,
  description: 'A page of companies.',
  examples: [{ data: [Company.examples[0]], next_cursor: null }]
})
export type CompanyList = Static<typeof CompanyList>
