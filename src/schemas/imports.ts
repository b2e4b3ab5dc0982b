import { Type, type Static } from '@sinclair/typebox'
import { IMPORT_MODES, IMPORT_STATUSES } from '../db/schema.js'
import { CompanyCreate } from './companies.js'
import { Cursor, DateOnly, DateTime, NextCursor, Nullable, StringEnum, Uuid } from './common.js'
import { EventCreate } from './events.js'

export const IMPORT_FORMATS = ['ndjson', 'csv', 'yale-celi', 'yale-celi-snapshots'] as const
export type ImportFormat = typeof IMPORT_FORMATS[number]
export type ImportMode = typeof IMPORT_MODES[number]

/** The columns of an events CSV import, in any order; `id`, `source_count`, `created_at`, `updated_at` and `version` of an export are ignored. */
export const IMPORT_CSV_COLUMNS = [
  'company_id', 'company_name', 'company_country', 'region', 'service', 'action', 'date', 'date_precision', 'effective_date',
  'summary', 'external_id', 'source_urls'
] as const
export const IMPORT_CSV_IGNORED_COLUMNS = ['id', 'source_count', 'source_licenses', 'created_at', 'updated_at', 'version'] as const

const EXAMPLE_ID = '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d70'

export const ImportQuery = Type.Object({
  format: Type.Optional(StringEnum(IMPORT_FORMATS, {
    description: 'How to read the body. `ndjson` (one event per line) and `csv` (the columns below) are events; `yale-celi` is ' +
      'the Yale CELI list of companies in Russia (columns `name, action, industry, country, yaleGrade` or `grade`) and ' +
      '`yale-celi-snapshots` its dated copies (`snapshot_date, name, action, industry, country, grade[, status]`). ' +
      'Default: `ndjson` for `application/x-ndjson`, `csv` for `text/csv`. The Yale formats need `text/csv`.',
    examples: ['ndjson']
  })),
  mode: Type.Optional(StringEnum(IMPORT_MODES, {
    default: 'partial',
    description: '`partial` (default): valid lines land, rejected ones are reported. `atomic`: all or nothing: one rejected line and ' +
      'nothing lands, the import is `failed` and lists every rejected line.',
    examples: ['partial']
  })),
  date: Type.Optional(DateOnly({
    description: 'For `format=yale-celi` only, and required there: the day the list was captured, which becomes each event\'s `date` ' +
      '(the list itself has no dates).',
    examples: ['2025-05-21']
  }))
}, { additionalProperties: false })
export type ImportQuery = Static<typeof ImportQuery>

/** The company of an imported event, by name and country, when the line has no `company_id`. */
export const ImportCompany = Type.Object({
  name: CompanyCreate.properties.name,
  country: CompanyCreate.properties.country,
  sector: CompanyCreate.properties.sector
}, {
  additionalProperties: false,
  description: 'Matched to a live company with the same name (ignoring case and accents) and the same country (both null counts as ' +
    'the same); created when there is none. `sector` is only used when the company is created.'
})

const { company_id: companyId, ...eventFields } = EventCreate.properties
/** One line of an NDJSON import: an EventCreate whose company is named by `company_id` or by `company`. */
export const ImportLine = Type.Object({
  company_id: Type.Optional(companyId),
  company: Type.Optional(ImportCompany),
  ...eventFields
}, {
  additionalProperties: false,
  description: 'An event as in `POST /v1/events`, with exactly one of `company_id` and `company`.'
})
export type ImportLine = Static<typeof ImportLine>

export const ImportAccepted = Type.Object({
  id: Uuid({ examples: [EXAMPLE_ID] }),
  status: StringEnum(IMPORT_STATUSES, { description: 'Where the import stands; see `GET /v1/imports/{id}`.', examples: ['done'] })
}, { additionalProperties: false, description: 'The import; its outcome, line by line, is at `Location`.' })

export const ImportError = Type.Object({
  line: Type.Integer({ format: 'int32', minimum: 1, maximum: 2147483647, description: 'The 1-based number of the input line (NDJSON) or data record (CSV: the header is not counted; a record with quoted line breaks is one).', examples: [3] }),
  field: Type.String({ maxLength: 2000, description: 'JSON pointer to the failing field of the line (`/region`, `/sources/0/url`; a CSV column is `/<column>`); empty for the whole line.', examples: ['/region'] }),
  message: Type.String({ maxLength: 2000, examples: ["unknown region code 'XX'"] })
}, { additionalProperties: false, description: 'Why a line was rejected.' })

export const ImportCounts = Type.Object({
  created: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'Lines that created an event.', examples: [1200] }),
  updated: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'Lines that changed the live event with their `external_id`.', examples: [40] }),
  unchanged: Type.Integer({
    format: 'int32',
    minimum: 0,
    maximum: 2147483647,
    description: 'Lines equal to the live event with their `external_id`; in a failed atomic import, every line not rejected (nothing landed).',
    examples: [350]
  }),
  rejected: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'Lines refused; each is listed in `errors`.', examples: [2] })
}, { additionalProperties: false, description: 'Every line has exactly one outcome: once the import is over, the counts add up to the number of lines.' })

export const Import = Type.Object({
  id: Uuid({ examples: [EXAMPLE_ID] }),
  format: StringEnum(IMPORT_FORMATS, { examples: ['ndjson'] }),
  mode: StringEnum(IMPORT_MODES, { examples: ['partial'] }),
  status: StringEnum(IMPORT_STATUSES, {
    description: '`queued`: accepted, not started; `running`: lines are being read; `done`: every line has its outcome; `failed`: an atomic ' +
      'import with a rejected line (nothing landed), or the import stopped (see `failure`: in partial mode the batches written before stay).',
    examples: ['done']
  }),
  counts: ImportCounts,
  progress: Type.Object({
    lines_done: Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647, description: 'Lines with an outcome so far (in atomic mode on the embedded database, known at the end only).', examples: [1592] }),
    lines_total: Nullable(Type.Integer({ format: 'int32', minimum: 0, maximum: 2147483647 }), { description: 'The number of lines, once the whole body is read.', examples: [1592] })
  }, { additionalProperties: false }),
  failure: Nullable(Type.String({ maxLength: 2000 }), { description: 'Why the import stopped, when it did.', examples: [null] }),
  errors: Type.Array(ImportError, { maxItems: 1000, description: 'The rejected lines, one entry each, in line order, a page at a time (`limit`, `cursor`).' }),
  errors_next_cursor: NextCursor,
  created_at: DateTime(),
  started_at: Nullable(DateTime()),
  finished_at: Nullable(DateTime())
}, {
  additionalProperties: false,
  description: 'A bulk import: where it stands, the outcome counts of its lines, and its rejected lines.',
  examples: [{
    id: EXAMPLE_ID,
    format: 'ndjson',
    mode: 'partial',
    status: 'done',
    counts: { created: 2, updated: 0, unchanged: 0, rejected: 1 },
    progress: { lines_done: 3, lines_total: 3 },
    failure: null,
    errors: [{ line: 2, field: '/region', message: "unknown region code 'XX'" }],
    errors_next_cursor: null,
    created_at: '2026-11-26T15:11:08.123456Z',
    started_at: '2026-11-26T15:11:08.123456Z',
    finished_at: '2026-11-26T15:11:08.523456Z'
  }]
})
export type Import = Static<typeof Import>

export const ImportGetQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: 1000, default: 100, description: 'How many errors to list.', examples: [100] })),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type ImportGetQuery = Static<typeof ImportGetQuery>
