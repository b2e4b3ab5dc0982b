import { Type, type Static, type TSchema, type SchemaOptions } from '@sinclair/typebox'

/** A reference to a schema registered with `app.addSchema`, so OpenAPI names it under components. */
export const ref = <T extends TSchema>(schema: T) => Type.Unsafe<Static<T>>(Type.Ref(schema.$id!))

/** A nullable field written as `type: [T, "null"]`, the OpenAPI 3.1 form that SDK generators read best. */
export function Nullable<T extends TSchema> (schema: T, options: SchemaOptions = {}) {
  // An enum lists null too, or a null would fail it whatever `type` allows.
  const values = Array.isArray(schema.enum) ? { enum: [...schema.enum, null] } : {}
  return Type.Unsafe<Static<T> | null>({ ...schema, ...options, ...values, type: [schema.type, 'null'] })
}

// A plain 8-4-4-4-12 hex id: Ajv's `uuid` format also takes `urn:uuid:…`, which Postgres refuses.
const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
export const Uuid = (options: SchemaOptions = {}) =>
  Type.String({ format: 'uuid', pattern: UUID_PATTERN, minLength: 36, maxLength: 36, examples: ['01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'], ...options })

export const DateOnly = (options: SchemaOptions = {}) =>
  Type.String({ format: 'date', maxLength: 10, examples: ['2022-03-08'], ...options })

export const DateTime = (options: SchemaOptions = {}) =>
  Type.String({ format: 'date-time', maxLength: 40, examples: ['2022-03-08T14:05:09.123456Z'], ...options })

/** What a failed `pattern` means, in words, for the patterns that these schemas use. */
export const patternMessages = new Map<string, string>()

const HTTP_URL_PATTERN = '^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+'
patternMessages.set(HTTP_URL_PATTERN, 'must be an absolute http(s) URL')

/** An absolute http(s) URL: `uri` for generators, the pattern to refuse `mailto:`, `javascript:` and relative forms. */
export const HttpUrl = (options: SchemaOptions = {}) =>
  Type.String({ format: 'uri', pattern: HTTP_URL_PATTERN, maxLength: 2048, ...options })

/**
 * Free text of 1 to `maxLength` characters once surrounding blanks are trimmed (services trim it);
 * the outer `maxLength` only bounds how much padding is read.
 */
export function Text (maxLength: number, options: SchemaOptions = {}) {
  const pattern = `^\\s*\\S(?:[\\s\\S]{0,${maxLength - 2}}\\S)?\\s*$`
  patternMessages.set(pattern, `must be 1 to ${maxLength} characters after trimming, not blank`)
  return Type.String({ minLength: 1, maxLength: maxLength + 200, pattern, ...options })
}

/** The query string of a route that takes no parameters: anything there is a typo, and a 400. */
export const NoQuery = Type.Object({}, { additionalProperties: false })

export const IdParams = Type.Object({
  id: Uuid({ description: 'The resource id (UUIDv7).' })
}, { additionalProperties: false })
export type IdParams = Static<typeof IdParams>

export const FieldError = Type.Object({
  in: Type.String({ maxLength: 20, description: 'Part of the request: body, querystring, params or headers.', examples: ['body'] }),
  pointer: Type.String({ maxLength: 2000, description: 'JSON pointer to the failing field within that part.', examples: ['/region'] }),
  message: Type.String({ maxLength: 2000, examples: ["unknown region code 'XX'"] })
}, { additionalProperties: false })

export const Problem = Type.Object({
  type: Type.String({ maxLength: 100, description: 'Relative URI of the kind of error; GET it for an explanation.', examples: ['/problems/validation-error'] }),
  title: Type.String({ maxLength: 200, examples: ['Request validation failed'] }),
  status: Type.Integer({ format: 'int32', minimum: 400, maximum: 599, examples: [400] }),
  detail: Type.String({ maxLength: 10000, examples: ['body/region must be an ISO 3166 code'] }),
  instance: Type.String({ maxLength: 10000, description: 'The path of the request.', examples: ['/v1/events'] }),
  code: Type.String({ maxLength: 100, description: 'Stable machine-readable error code.', examples: ['APP_VALIDATION'] }),
  request_id: Type.String({ maxLength: 128, examples: ['01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'] }),
  errors: Type.Optional(Type.Array(FieldError, { maxItems: 100, description: 'Every failing field, for validation errors.' }))
}, {
  $id: 'Problem',
  description: 'An RFC 9457 problem details object.',
  examples: [{
    type: '/problems/validation-error',
    title: 'Request validation failed',
    status: 400,
    detail: 'body/region must be an ISO 3166 code',
    instance: '/v1/events',
    code: 'APP_VALIDATION',
    request_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e',
    errors: [{ in: 'body', pointer: '/region', message: "unknown region code 'XX'" }]
  }]
})
export type Problem = Static<typeof Problem>

const problemRef = ref(Problem)
// @fastify/swagger reads a response's `headers` as a map of header name to schema, not as an object schema.
const problemResponse = (description: string, headers?: Record<string, TSchema>) => ({
  description,
  ...(headers ? { headers } : {}),
  content: { 'application/problem+json': { schema: problemRef } }
})

/** Error responses by status, each described, for the `response` map of a route. */
export const problems = {
  400: problemResponse('The request is malformed or fails validation; `errors` names each field.'),
  401: problemResponse('Credentials are missing or invalid.', {
    'www-authenticate': Type.String({ maxLength: 100, description: 'The Bearer challenge.' })
  }),
  403: problemResponse('The API key lacks the scope this operation needs.'),
  404: problemResponse('No such resource (or it was deleted).'),
  406: problemResponse('`Accept` allows none of the media types this resource can be had as.'),
  409: problemResponse('The change conflicts with another resource.'),
  412: problemResponse('`If-Match` does not match the current ETag.'),
  413: problemResponse('The body is larger than the limit.'),
  415: problemResponse('The body is not in a supported media type.'),
  422: problemResponse('The `Idempotency-Key` was already used with another request.'),
  429: problemResponse('The rate limit is exhausted; retry after `Retry-After` seconds.', {
    'Retry-After': Type.Integer({ format: 'int32', minimum: 1, maximum: 86400, description: 'Seconds until the limit allows a request again.' })
  }),
  503: problemResponse('The database is unavailable; retry after `Retry-After` seconds.', {
    'retry-after': Type.Integer({ format: 'int32', minimum: 1, maximum: 3600, description: 'Seconds to wait before retrying.' })
  })
} as const

/** Reads are public unless READ_REQUIRES_KEY is set; then they need a key with the `read` scope. */
export const readSecurity: Array<Record<string, string[]>> = [{}, { bearerAuth: [] }]
/** Writes need a key with the `write` scope. */
export const writeSecurity: Array<Record<string, string[]>> = [{ bearerAuth: [] }]

/**
 * The error responses every /v1 route can give; a 500 is a bug, documented so that clients can parse it.
 * A 401 too: a key sent to a public read is still checked, and an unknown one refused.
 */
export const commonProblems = {
  400: problems[400],
  401: problems[401],
  429: problems[429],
  500: problemResponse('A bug on our side; the details are logged under `request_id`.'),
  503: problems[503]
}

/** A write that takes no body still answers 413 or 415 to one sent anyway: Fastify reads a body before the route runs. */
export const bodyProblems = { 413: problems[413], 415: problems[415] }

/** The error responses of a create: validation, credentials, conflicts and body limits. */
export const createProblems = {
  ...commonProblems, 403: problems[403], 409: problems[409], 413: problems[413], 415: problems[415]
}

export const ListLimit = Type.Integer({
  format: 'int32',
  minimum: 1,
  maximum: 200,
  default: 50,
  description: 'Page size.',
  examples: [50]
})
export const Cursor = Type.String({
  minLength: 1,
  maxLength: 1000,
  description: 'The `next_cursor` of the previous page. Only valid with the same filters and sort.',
  examples: ['eyJ2IjoxLCJmIjoiYWJjIiwiayI6WyIyMDIyLTAzLTA4IiwiMDE5MzZmMGUtN2Q1Yy03Y2MxLTliOGEtNGYyYTFlM2M1ZDZlIl19']
})
export const NextCursor = Nullable(Type.String({ maxLength: 1000 }), {
  description: 'Pass as `cursor` to get the next page; null on the last page.',
  examples: [null]
})

/** Headers for conditional requests on single resources. */
export const ConditionalGetHeaders = Type.Object({
  'if-none-match': Type.Optional(Type.String({ maxLength: 1000, description: 'An ETag from an earlier response; a match answers 304.', examples: ['"3"'] }))
})
export const ConditionalWriteHeaders = Type.Object({
  'if-match': Type.Optional(Type.String({ maxLength: 1000, description: 'The ETag the change is based on; a stale one answers 412.', examples: ['"3"'] }))
})

/** A string enum written as `enum: [...]` (not `anyOf` of constants), as OpenAPI generators expect. */
export const StringEnum = <const T extends readonly string[]>(values: T, options: SchemaOptions = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })

/** A PATCH body, accepted as `application/merge-patch+json` (RFC 7396) or as plain `application/json`. */
export const mergePatchBody = <T extends TSchema>(schema: T) => ({
  content: {
    'application/merge-patch+json': { schema },
    'application/json': { schema }
  }
})

/** `known_at`: answer from the data as it was recorded at that moment (what we knew then). */
export const KnownAt = DateTime({
  description: 'Answer from the data as it was recorded at this moment: what we knew then, before later corrections ' +
    '(`as_of`, where there is one, is when things happened). Rebuilt from the history, so slower than a plain read.',
  examples: ['2022-03-10T00:00:00Z']
})

/** The query of a single-resource read. */
export const ResourceQuery = Type.Object({ known_at: Type.Optional(KnownAt) }, { additionalProperties: false })
export type ResourceQuery = Static<typeof ResourceQuery>
