import { isUtf8 } from 'node:buffer'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js'
import ajvFormats from 'ajv-formats'
import fc from 'fast-check'
import t from 'tap'
import type { App } from '../../src/app.js'
import { normaliseSourceUrl } from '../../src/domain/urls.js'
import { customFormats } from '../../src/validation.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

/*
 * Property-based adversarial input, generated from the app's own OpenAPI document (which the route schemas make):
 * every operation gets requests whose path, query string, headers and body start valid and are then mutated.
 * Each response must be below 500, have a status the operation documents, and match the schema documented for
 * that status and media type; every accepted write must read back unchanged (up to the documented normalisation).
 */

const SEED = Number(process.env.ADVERSARIAL_SEED ?? 20261127)
// Requests per operation, before read-backs; 38 operations × this comes to well over 10,000 requests.
const RUNS = Number(process.env.ADVERSARIAL_RUNS ?? 270)
const MB = 1024 * 1024
// A comma-separated list of operationIds, to run only those while investigating.
const ONLY = process.env.ADVERSARIAL_ONLY?.split(',')

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
interface Schema {
  $ref?: string
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  anyOf?: Schema[]
  oneOf?: Schema[]
  properties?: Record<string, Schema>
  required?: string[]
  additionalProperties?: boolean | Schema
  items?: Schema
  minItems?: number
  maxItems?: number
  uniqueItems?: boolean
  minLength?: number
  maxLength?: number
  pattern?: string
  format?: string
  minimum?: number
  maximum?: number
  default?: unknown
}
interface MediaType { schema?: Schema }
interface Parameter { name: string, in: 'path' | 'query' | 'header', required?: boolean, schema: Schema }
interface Operation {
  operationId: string
  parameters?: Parameter[]
  requestBody?: { content: Record<string, MediaType> }
  responses: Record<string, { content?: Record<string, MediaType> }>
}
interface Document { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, Schema> } }

/** A request body: JSON made from a value, or raw text or bytes (malformed JSON, invalid UTF-8, other media). */
type Body = { kind: 'json', value: unknown } | { kind: 'raw', data: string | Buffer }
interface Request {
  method: string
  url: string
  headers: Record<string, string>
  body?: Body
  contentType?: string
}

// ---------------------------------------------------------------------------------------------------------------
// Strings that have broken APIs before: storable ones must come back byte for byte; the others must be a 400.

const SQL_INJECTION = [
  "'; DROP TABLE events; --", "' OR '1'='1", "1' OR 1=1 --", "%' OR ''='", '1; SELECT pg_sleep(10); --',
  "' UNION SELECT key_hash FROM api_keys --", '\\\'; COPY events TO PROGRAM \'id\'; --', '$$; SELECT 1; $$', 'E\'\\x27\''
]
const JSON_INJECTION = [
  '","admin":true,"x":"', '{"$ne":null}', '{"$where":"sleep(1000)"}', '__proto__', 'constructor', 'prototype',
  '"}]}', '\\u0000', '\\"', '{"__proto__":{"admin":true}}', '[[[[[[[[[["'
]
const UNICODE = [
  'Яндекс Маркет', 'Société Générale', 'مرحبا بالعالم', 'שלום עולם', 'شركة أرامكو السعودية', '\u202Egnp.exe\u202C',
  '\u200F\u05E9\u200E', 'e\u0301 vs \u00E9', '🏳️‍🌈👨‍👩‍👧‍👦🇷🇺🇺🇦', '𝕳𝖊𝖑𝖑𝖔 𝔀𝓸𝓻𝓵𝓭', '中国石油天然气集团', 'Ǆemal', 'İstanbul ı',
  '\u200B\uFEFFzero width', 'ﷺ', '\u{10FFFF}', '\u{1F600}'.repeat(50), 'a\u0308\u0304\u0331'.repeat(20)
]
const MARKUP = ['<script>alert(1)</script>', '$' + '{7*7}{{7*7}}#{7*7}', '../../../etc/passwd', '=cmd|\'/C calc\'!A0', '@SUM(1+1)', '-1+1', 'null', 'true', '0', 'NaN', '1e309', '-0']
const WHITESPACE = ['  padded  ', 'tab\there', 'line\nbreak\r\nend', '\u00A0nbsp\u00A0', '\u3000ideographic\u3000']
const STORABLE = [...SQL_INJECTION, ...JSON_INJECTION, ...UNICODE, ...MARKUP, ...WHITESPACE]
// Postgres cannot store these; a lone surrogate would silently become U+FFFD.
const UNSTORABLE = ['\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\udc00\ud800', 'ok\ud83d']

/** A printable-ish string of any script, or one of the known troublemakers. */
const anyText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...STORABLE) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 20 }) }
)

// ---------------------------------------------------------------------------------------------------------------
// Values that a valid request would carry, for the formats our schemas use.

const REGIONS = ['RU', 'BY', 'UA', 'UA-43', 'US', 'FR', 'DE', 'GB-ENG', 'CN', 'ru', 'ua-43', 'Ua-43', 'IL', 'SA']
const COUNTRIES = ['RU', 'US', 'FR', 'DE', 'GB', 'IL', 'SA', 'CN', 'us', 'fR']
const LANGUAGES = ['en', 'fr', 'ru', 'ar', 'he', 'zh-Hant-TW', 'sr-Latn-RS', 'en-GB', 'EN-gb']
const HOSTS = ['news.example.com', 'NEWS.Example.COM', 'example.org', 'xn--e1afmkfd.xn--p1ai', 'reuters.com', '93.184.216.34', '[2606:2800:220:1:248:1893:25c8:1946]']

/** An ISO 17442 LEI whose check digits verify (ISO 7064 mod 97-10), from 18 characters. */
function lei (prefix: string): string {
  const digits = [...`${prefix}00`].map((c) => Number.parseInt(c, 36)).join('')
  let rest = 0
  for (const d of digits) rest = (rest * 10 + Number(d)) % 97
  return `${prefix}${String(98 - rest).padStart(2, '0')}`
}
const alnum = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')

const dateArb = fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true })
const pathSegment = fc.oneof(fc.uuid(), fc.constantFrom(...UNICODE, ...SQL_INJECTION).map((s) => encodeURIComponent(s)))
const httpUrl = fc.tuple(fc.constantFrom('https', 'http', 'HTTPS'), fc.constantFrom(...HOSTS), fc.uuid(), pathSegment, fc.option(fc.constantFrom('?a=1&b=%E2%9C%93', '#section', '?q=\'--'), { nil: '' }))
  .map(([scheme, host, id, segment, tail]) => `${scheme}://${host}/${id}/${segment}${tail}`)

const formats: Record<string, fc.Arbitrary<string>> = {
  uuid: fc.uuid(),
  date: dateArb.map((d) => d.toISOString().slice(0, 10)),
  'date-time': dateArb.map((d) => d.toISOString()),
  'iso-3166-region': fc.constantFrom(...REGIONS),
  'iso-3166-1-alpha-2': fc.constantFrom(...COUNTRIES),
  lei: fc.array(alnum, { minLength: 18, maxLength: 18 }).map((cs) => lei(cs.join(''))),
  bcp47: fc.constantFrom(...LANGUAGES),
  uri: httpUrl
}

const TEXT_PATTERN = /^\^\\s\*\\S/

function stringArbitrary (schema: Schema): fc.Arbitrary<string> {
  const fits = (s: string) => s.length >= (schema.minLength ?? 0) && s.length <= (schema.maxLength ?? Infinity) &&
    (schema.pattern === undefined || new RegExp(schema.pattern, 'u').test(s))
  if (schema.format && formats[schema.format]) return formats[schema.format]!.filter(fits)
  // `^[class]+$` with a minimum length: one character of the class at a time, or the filter would seldom pass.
  const charClass = schema.pattern && /^\^(\[[^\]]+\])\+\$$/.exec(schema.pattern)?.[1]
  if (charClass) {
    const unit = fc.stringMatching(new RegExp(`^${charClass}$`, 'u'))
    return fc.string({ unit, minLength: schema.minLength ?? 1, maxLength: Math.min(schema.maxLength ?? 40, 40) }).filter(fits)
  }
  if (schema.pattern && !TEXT_PATTERN.test(schema.pattern) && schema.pattern !== '\\S') {
    return fc.stringMatching(new RegExp(schema.pattern, 'u')).filter(fits)
  }
  return fc.oneof(anyText, fc.constant('x'.repeat(Math.min(schema.maxLength ?? 300, 300)))).filter(fits)
}

/** An arbitrary of values valid against a JSON Schema (as far as its keywords go), with `overrides` by property name. */
function arbitraryOf (schema: Schema, doc: Document, overrides: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  if (schema.$ref) return arbitraryOf(resolve(schema.$ref, doc), doc, overrides)
  const alternatives = schema.anyOf ?? schema.oneOf
  if (alternatives) return fc.oneof(...alternatives.map((s) => arbitraryOf(s, doc, overrides)))
  if (schema.const !== undefined) return fc.constant(schema.const)
  if (schema.enum) return fc.constantFrom(...schema.enum)
  if (Array.isArray(schema.type)) return fc.oneof(...schema.type.map((type) => arbitraryOf({ ...schema, type }, doc, overrides)))
  switch (schema.type) {
    case 'null': return fc.constant(null)
    case 'boolean': return fc.boolean()
    case 'integer': return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 })
    case 'number': return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true })
    case 'string': return stringArbitrary(schema)
    case 'array': {
      const item = arbitraryOf(schema.items ?? {}, doc, overrides)
      const bounds = { minLength: schema.minItems ?? 0, maxLength: Math.min(schema.maxItems ?? 4, Math.max(schema.minItems ?? 0, 4)) }
      return schema.uniqueItems ? fc.uniqueArray(item, { ...bounds, selector: (v) => JSON.stringify(v) }) : fc.array(item, bounds)
    }
    default: {
      const properties = schema.properties ?? {}
      const model = Object.fromEntries(Object.entries(properties).map(([k, s]) => [k, overrides[k] ?? arbitraryOf(s, doc, overrides)]))
      return fc.record(model, { requiredKeys: schema.required ?? [] })
    }
  }
}

function resolve (ref: string, doc: Document): Schema {
  const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1]
  const schema = name === undefined ? undefined : doc.components.schemas[name]
  if (!schema) throw new Error(`unresolvable $ref ${ref}`)
  return schema
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations: each takes a valid value somewhere wrong.

const deepArrays = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as Json
const deepObjects = (depth: number) => JSON.parse('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)) as Json
const junkValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1.5, 1e308, -0, '', ' ', [], {}, [null], { '': '' }, 'x'.repeat(10_000)),
  fc.constantFrom(...UNSTORABLE),
  fc.constantFrom(...STORABLE),
  // Deeper nesting goes as raw text (see rawBody): fast-check's own reports recurse through values.
  fc.constantFrom(50, 500).map(deepArrays),
  fc.constantFrom(50, 500).map(deepObjects),
  fc.jsonValue({ maxDepth: 3 })
)

type Path = Array<string | number>
function leafPaths (value: unknown, path: Path = [], out: Path[] = []): Path[] {
  out.push(path)
  if (Array.isArray(value)) value.forEach((v, i) => leafPaths(v, [...path, i], out))
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) leafPaths(v, [...path, k], out)
  return out
}
const isObject = (value: unknown) => value !== null && typeof value === 'object' && !Array.isArray(value)
const valueAt = (value: unknown, path: Path): unknown => path.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)[k], value)
function setAt (value: unknown, path: Path, replacement: unknown, remove = false): unknown {
  if (path.length === 0) return replacement
  const copy = (Array.isArray(value) ? [...value] : { ...(value as object) }) as Record<string | number, unknown>
  const [head, ...rest] = path as [string | number, ...Path]
  if (rest.length === 0 && remove) delete copy[head]
  else copy[head] = setAt(copy[head], rest, replacement, remove)
  return copy
}

/** A JSON value, valid or mutated at one spot: a field dropped, added, of the wrong type or holding a hostile string. */
function mutated (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return valid.chain((value) => {
    const paths = leafPaths(value)
    const at = fc.constantFrom(...paths)
    const objects = paths.filter((p) => isObject(valueAt(value, p)))
    const inner = paths.filter((p) => p.length > 0)
    return fc.oneof(
      { weight: 5, arbitrary: fc.constant(value) },
      { weight: 2, arbitrary: fc.tuple(at, junkValue).map(([p, junk]) => setAt(value, p, junk)) },
      { weight: 2, arbitrary: fc.tuple(at, fc.constantFrom(...UNSTORABLE, ...STORABLE)).map(([p, s]) => setAt(value, p, s)) },
      { weight: 1, arbitrary: inner.length > 0 ? fc.constantFrom(...inner).map((p) => setAt(value, p, undefined, true)) : fc.constant(value) },
      // Unknown keys go on objects only: an array with an own `constructor` breaks Array methods in this test, not in the app.
      { weight: 1, arbitrary: objects.length === 0 ? fc.constant(value) : fc.tuple(fc.constantFrom(...objects), fc.constantFrom('extra', '__proto__', 'constructor', 'ID', '', '\u0000', '\ud800', 'id', 'version')).map(([p, key]) => setAt(value, [...p, key], 1)) }
    )
  })
}

const hugeString = (bytes: number) => 'é'.repeat(Math.floor(bytes / 2))
/** Bodies no schema produces: malformed or hostile JSON text, invalid UTF-8, sizes near and over the 1 MiB limit. */
const rawBody: fc.Arbitrary<Body> = fc.oneof(
  fc.constantFrom(
    '', '{', '}', '{"a":1,}', "{'a':1}", '{"a":1}{"b":2}', 'null', '[]', '"string"', '123', 'true', 'NaN', '{"a":Infinity}',
    '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"name":"a","name":"b"}',
    '\uFEFF{"name":"bom"}', '{"name":"\\ud800"}', '{"name":"\\u0000"}', '{"name":"a\\u0000"}', '{"\\u0000":1}',
    `{"name":${'1'.repeat(400)}}`, '{"name":1e999999}', '{"a":"\\x41"}', '\u0000', '{"a":1}\u0000'
  ).map((data): Body => ({ kind: 'raw', data })),
  fc.constantFrom(1000, 100_000).map((depth): Body => ({ kind: 'raw', data: '['.repeat(depth) + ']'.repeat(depth) })),
  fc.constantFrom(1000, 100_000).map((depth): Body => ({ kind: 'raw', data: '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth) })),
  fc.constantFrom('name', 'service', 'names', 'url', 'sources', 'filters').map((field): Body => ({ kind: 'raw', data: `{"${field}":${'['.repeat(5000)}${']'.repeat(5000)}}` })),
  fc.constantFrom(
    [0xff, 0xfe], [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0xbc], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80]
  ).map((bytes): Body => ({
    kind: 'raw',
    data: Buffer.concat([Buffer.from('{"name":"bad '), Buffer.from(bytes), Buffer.from('","service":"x'), Buffer.from(bytes), Buffer.from('"}')])
  })),
  fc.constantFrom(MB - 200, MB + 10, 3 * MB).map((bytes): Body => ({ kind: 'raw', data: JSON.stringify({ name: hugeString(bytes) }) }))
)

// ---------------------------------------------------------------------------------------------------------------
// Headers, ids and query strings.

const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/merge-patch+json', 'APPLICATION/JSON', 'text/plain',
  'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', ';;;', 'application/xml',
  'text/csv', 'application/x-ndjson', 'application/json\u00e9'
]
const ACCEPTS = [
  'application/json', '*/*', 'text/csv', 'application/x-ndjson', 'text/html', 'application/problem+json', 'image/png',
  'application/json;q=0', 'text/csv;q=0.5, application/x-ndjson', ',,,', 'application/*', 'text/*;q=0.1'
]
const ETAGS = ['"1"', '"2"', 'W/"1"', '*', '"999999999999999999999"', '', 'garbage', '"\u00e9"', '"1", "2"', '"-1"']
const REASONS = ['Source retracted', 'Correcting%20the%20date', '%E2%80%94%20%D0%AF%D0%BD%D0%B4%D0%B5%D0%BA%D1%81', '%', '%ZZ', '%C0%AF', '%00', 'x'.repeat(600), '%0A', ' ']

interface Fixtures {
  admin: Record<string, string>
  readOnly: Record<string, string>
  events: string[]
  companies: string[]
  apiKeys: string[]
  webhooks: string[]
  imports: string[]
  deliveries: string[]
}

/** `arbitrary` in one request of `oneIn`, else nothing. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number) =>
  fc.oneof({ weight: oneIn - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary })

const headersArb = (fixtures: Fixtures) => fc.record({
  auth: fc.oneof(
    { weight: 12, arbitrary: fc.constant(fixtures.admin) },
    { weight: 1, arbitrary: fc.constant(fixtures.readOnly) },
    {
      weight: 1,
      arbitrary: fc.constantFrom<Record<string, string>>({}, { authorization: 'Bearer nope' }, { authorization: 'Basic YWRtaW46YWRtaW4=' },
        { authorization: 'Bearer' }, { authorization: `Bearer ${'x'.repeat(5000)}` }, { authorization: "Bearer ' OR 1=1 --" }, { authorization: 'Bearer \u00e9' })
    }
  ),
  accept: sometimes(fc.constantFrom(...ACCEPTS), 4),
  'accept-encoding': sometimes(fc.constantFrom('gzip', 'br', 'gzip, br', 'identity;q=0', 'x-unknown'), 4),
  'content-type': sometimes(fc.constantFrom(...CONTENT_TYPES), 6),
  'if-match': sometimes(fc.constantFrom(...ETAGS), 5),
  'if-none-match': sometimes(fc.constantFrom(...ETAGS), 5),
  'idempotency-key': sometimes(fc.oneof(fc.uuid(), fc.constantFrom('k', 'same-key', 'x'.repeat(300), 'has space', '\u00e9')), 4),
  'change-reason': sometimes(fc.constantFrom(...REASONS), 4),
  'x-request-id': sometimes(fc.constantFrom('abc-123', '../../etc', 'x'.repeat(500), "' OR 1=1"), 6)
})

const idJunk = [
  '00000000-0000-0000-0000-000000000000', 'urn:uuid:01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e', '{01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e}',
  '01936f0e7d5c7cc19b8a4f2a1e3c5d6e', 'null', 'undefined', '-1', '0', '1e3', '%00', '%E2%80%AE', '..', '%2e%2e%2f', '%20',
  encodeURIComponent("' OR 1=1 --"), encodeURIComponent('🏳️‍🌈'), encodeURIComponent('\u0000'), 'x'.repeat(100)
]
// Paths that Fastify refuses before routing (src/plugins/errors.ts answerFrameworkError): tested on their own at the end.
const FRAMEWORK_REFUSED_PATHS = ['/v1/events/%ff', '/v1/companies/%E0%A4%A', `/v1/events/${'x'.repeat(101)}`, `/problems/${'x'.repeat(5000)}`]
function idArb (pool: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 6, arbitrary: pool.length > 0 ? fc.constantFrom(...pool) : fc.uuid() },
    { weight: 1, arbitrary: (pool.length > 0 ? fc.constantFrom(...pool) : fc.uuid()).map((id) => id.toUpperCase()) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...idJunk) }
  )
}

const queryJunk = fc.oneof(
  fc.constantFrom('0x10', '1e1', '-0', '007', '99999999999999999999', '-1', '', ' ', '%', '%zz', '%ff', '%00', '%ED%A0%80', 'a%2Cb', ',,,', 'true', 'null', '[]'),
  fc.constantFrom(...STORABLE, ...UNSTORABLE).map((s) => encodeURIComponent(s.isWellFormed() ? s : s.replace(/[\ud800-\udfff]/g, '')) + (s.isWellFormed() ? '' : '%ED%A0%80')),
  fc.constant('x'.repeat(20_000))
)

function queryArb (parameters: Parameter[], doc: Document, overrides: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<string> {
  const model = Object.fromEntries(parameters.map((p) => [p.name, (overrides[p.name] ?? arbitraryOf(p.schema, doc)).map((v) => encodeURIComponent(String(v)))]))
  const valid = fc.record(model, { requiredKeys: parameters.filter((p) => p.required).map((p) => p.name) })
    .map((q) => Object.entries(q).map(([k, v]) => `${k}=${v}`))
  const names = parameters.map((p) => p.name)
  return valid.chain((pairs) => fc.oneof(
    { weight: 4, arbitrary: fc.constant(pairs) },
    { weight: 2, arbitrary: fc.tuple(names.length > 0 ? fc.constantFrom(...names) : fc.constant('limit'), queryJunk).map(([k, v]) => [...pairs, `${k}=${v}`]) },
    { weight: 1, arbitrary: fc.constantFrom('unknown=1', 'LIMIT=1', '__proto__=1', 'constructor[prototype]=1', 'a[b]=1', '=', '&&&', 'limit', 'q=%E2%80%AE&q=x').map((extra) => [...pairs, extra]) },
    { weight: 1, arbitrary: fc.constant([...pairs, ...pairs]) }
  )).map((pairs) => pairs.join('&'))
}

// ---------------------------------------------------------------------------------------------------------------
// The documented responses, compiled once.

/** The document's schemas rewritten for Ajv: component refs by name, no OpenAPI-only keywords. */
function forAjv (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forAjv)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'example' || k === 'examples' || k === '$id') continue
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/components/schemas/', 'component:')
    else out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as object).map(([p, s]) => [p, forAjv(s)])) : forAjv(v)
  }
  return out
}

function responseValidator (doc: Document) {
  const ajv = new Ajv2020({ allErrors: false, strict: true, allowUnionTypes: true, validateFormats: true })
  ajvFormats.default(ajv as never, { mode: 'full' })
  for (const [name, validate] of Object.entries(customFormats)) ajv.addFormat(name, { type: 'string', validate })
  for (const [name, schema] of Object.entries(doc.components.schemas)) ajv.addSchema(forAjv(schema) as object, `component:${name}`)
  const compiled = new Map<string, ValidateFunction>()
  return (key: string, schema: Schema): ValidateFunction => {
    let validate = compiled.get(key)
    if (!validate) compiled.set(key, validate = ajv.compile(forAjv(schema) as object))
    return validate
  }
}

/** A response's JSON body, decompressed. */
const jsonOf = (response: { headers: Record<string, unknown>, rawPayload: Buffer }): unknown => JSON.parse(decoded(response.headers, response.rawPayload).toString('utf8'))

function decoded (headers: Record<string, unknown>, raw: Buffer): Buffer {
  const encoding = headers['content-encoding']
  if (encoding === 'gzip') return gunzipSync(raw)
  if (encoding === 'br') return brotliDecompressSync(raw)
  return raw
}

// ---------------------------------------------------------------------------------------------------------------
// Read-back: what an accepted field must look like when it comes back, after the documented normalisation.

/** Names are trimmed, codes upper-cased, ids lower-cased, source URLs normalised (scheme and host lower-cased, no fragment). */
function expectedValue (schema: Schema, value: unknown, field: string, inSources: boolean): unknown {
  if (typeof value !== 'string') return value
  if (schema.pattern && TEXT_PATTERN.test(schema.pattern)) return value.trim()
  if (field === 'sector') return value.trim()
  if (schema.format === 'uuid') return value.toLowerCase()
  if (schema.format === 'iso-3166-region' || schema.format === 'iso-3166-1-alpha-2' || schema.format === 'lei') return value.toUpperCase()
  if (inSources && field === 'url') return normaliseSourceUrl(value)
  return value
}

/** Differences between what was sent and what came back, as `pointer: sent → got` lines. */
function readBackDiff (schema: Schema, sent: unknown, got: unknown, doc: Document, pointer = '', field = '', inSources = false): string[] {
  if (schema.$ref) return readBackDiff(resolve(schema.$ref, doc), sent, got, doc, pointer, field, inSources)
  if (sent === null) return got === null ? [] : [`${pointer}: null → ${JSON.stringify(got)}`]
  if (Array.isArray(sent)) {
    if (!Array.isArray(got)) return [`${pointer}: ${JSON.stringify(sent)} → ${JSON.stringify(got)}`]
    const items = schema.items ?? {}
    if (schema.uniqueItems) {
      const want = new Set(sent.map((v) => JSON.stringify(expectedValue(items, v, field, inSources))))
      const have = new Set(got.map((v) => JSON.stringify(v)))
      return want.size === have.size && [...want].every((v) => have.has(v)) ? [] : [`${pointer}: ${JSON.stringify([...want])} → ${JSON.stringify(got)}`]
    }
    if (sent.length !== got.length) return [`${pointer}: ${sent.length} items → ${got.length}`]
    return sent.flatMap((v, i) => readBackDiff(items, v, got[i], doc, `${pointer}/${i}`, field, inSources || field === 'sources'))
  }
  if (typeof sent === 'object') {
    if (got === null || typeof got !== 'object') return [`${pointer}: object → ${JSON.stringify(got)}`]
    const properties = schema.properties ?? {}
    return Object.entries(sent).flatMap(([k, v]) =>
      // Fields the resource does not show (a webhook's secret) have nothing to read back.
      k in got ? readBackDiff(properties[k] ?? {}, v, (got as Record<string, unknown>)[k], doc, `${pointer}/${k}`, k, inSources) : [])
  }
  const want = expectedValue(schema, sent, field, inSources)
  return Object.is(want, got) ? [] : [`${pointer}: ${JSON.stringify(want)} → ${JSON.stringify(got)}`]
}

// ---------------------------------------------------------------------------------------------------------------

interface Stats {
  requests: number
  operations: Set<string>
  statuses: Map<number, number>
  readBacks: number
  failures: { serverErrors: number, undocumented: number, mismatches: number, changed: number }
}

t.test('adversarial input through every operation', async (t) => {
  const started = Date.now()
  // Load shedding stays off (the test apps' default): megabyte bodies and 100,000-deep JSON stall the event loop
  // by design here, and a shed request (a 503) would say nothing about the input.
  const app: App = await buildTestApp(t)
  // The app logs nothing in tests: keep the last error, to say in a report what a 5xx came from.
  let lastError: Error | undefined
  app.addHook('onError', async (_req, _reply, err) => { lastError = err })
  await app.ready()
  const doc = JSON.parse(JSON.stringify(app.swagger())) as Document
  const validatorFor = responseValidator(doc)
  const stats: Stats = { requests: 0, operations: new Set(), statuses: new Map(), readBacks: 0, failures: { serverErrors: 0, undocumented: 0, mismatches: 0, changed: 0 } }
  t.comment(`adversarial: seed ${SEED} (set ADVERSARIAL_SEED to replay), ${RUNS} runs per operation`)

  // Fixtures that ids are drawn from: live, deleted and unknown resources of every kind.
  const admin = await authHeader(app, ['admin', 'read', 'write'], 'adversarial-admin')
  const readOnly = await authHeader(app, ['read'], 'adversarial-read')
  const companies = await Promise.all([0, 1, 2].map(() => createCompany(app, { aliases: ['Alias'] })))
  const events = await Promise.all([0, 1, 2, 3].map((i) => createEvent(app, { company_id: companies[i % 3]!.id })))
  const spareKeys = await Promise.all([0, 1, 2].map((i) => app.services.apiKeys.create(`adversarial-spare-${i}`, ['read'])))
  const hook = await app.inject({ method: 'POST', url: '/v1/webhooks', headers: admin, payload: { url: 'https://93.184.216.34/hook' } })
  t.equal(hook.statusCode, 201, 'a webhook fixture')
  const imported = await app.inject({
    method: 'POST',
    url: '/v1/imports',
    headers: { ...admin, 'content-type': 'application/x-ndjson' },
    payload: JSON.stringify({ company_id: companies[0]!.id, region: 'BY', service: 'Imported', action: 'exit', date: '2022-03-09', sources: [{ url: 'https://example.org/imported' }] }) + '\n'
  })
  t.equal(imported.statusCode, 202, 'an import fixture')
  const fixtures: Fixtures = {
    admin,
    readOnly,
    events: events.map((e) => e.id),
    companies: companies.map((c) => c.id),
    // Never the keys the requests use: revoking them would turn the rest of the run into 401s.
    apiKeys: spareKeys.map((k) => k.id),
    webhooks: [hook.json().id],
    imports: [imported.json().id],
    deliveries: []
  }
  const seenSourceUrls = new Set<string>()

  async function send (request: Request) {
    stats.requests++
    const headers = { ...request.headers }
    let payload: string | Buffer | undefined
    if (request.body) {
      payload = request.body.kind === 'json' ? JSON.stringify(request.body.value) ?? 'null' : request.body.data
      headers['content-type'] ??= request.contentType ?? 'application/json'
    }
    const slow = setTimeout(() => process.stderr.write(`still waiting for ${request.method} ${brief(JSON.stringify(request, shorten), 3000)}\n`), 5000)
    try {
      return await app.inject({ method: request.method as 'GET', url: request.url, headers, ...(payload === undefined ? {} : { payload }) })
    } finally {
      clearTimeout(slow)
    }
  }

  /** The problems with one response: a 5xx, an undocumented status, or a body that does not match what is documented. */
  function check (op: Operation, where: string, response: Awaited<ReturnType<typeof send>>): string[] {
    const status = response.statusCode
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1)
    if (status >= 500) {
      stats.failures.serverErrors++
      const cause = (lastError?.cause as Error | undefined)?.message
      return [`${where}: ${status} ${response.payload.slice(0, 300)}\n${brief(lastError?.message, 300)}${cause ? `\ncaused by: ${cause}` : ''}`]
    }
    const documented = op.responses[String(status)] ?? op.responses.default
    if (!documented) {
      stats.failures.undocumented++
      return [`${where}: status ${status} is not documented (${Object.keys(op.responses).join(', ')}): ${response.payload.slice(0, 200)}`]
    }
    const problems = mismatches(op, status, documented, response)
    stats.failures.mismatches += problems.length > 0 ? 1 : 0
    return problems.map((p) => `${where}: ${p}`)
  }

  function mismatches (op: Operation, status: number, documented: { content?: Record<string, MediaType> }, response: Awaited<ReturnType<typeof send>>): string[] {
    const raw = decoded(response.headers, response.rawPayload)
    const contentType = String(response.headers['content-type'] ?? '').split(';')[0]!.trim()
    if (!documented.content) return raw.length === 0 ? [] : [`${status} has a body, but none is documented`]
    const media = documented.content[contentType]
    if (!media) return [`${status} is ${contentType || 'without Content-Type'}, documented as ${Object.keys(documented.content).join(', ')}: ${raw.toString('utf8').slice(0, 200)}`]
    const text = raw.toString('utf8')
    let body: unknown = text
    if (/json$/.test(contentType)) {
      try {
        body = JSON.parse(text)
      } catch {
        return [`${status} ${contentType} is not JSON`]
      }
    }
    const validate = validatorFor(`${op.operationId} ${status} ${contentType}`, media.schema ?? {})
    if (!validate(body)) return [`${status} ${contentType} does not match its schema: ${JSON.stringify(validate.errors?.slice(0, 3))} in ${text.slice(0, 300)}`]
    if (contentType === 'application/x-ndjson') {
      const event = validatorFor('Event', { $ref: '#/components/schemas/Event' })
      const bad = text.split('\n').filter(Boolean).find((line) => !event(JSON.parse(line)))
      if (bad !== undefined) return [`an NDJSON line is not an Event: ${bad.slice(0, 200)}`]
    }
    return []
  }

  /** Where an accepted write can be read back, and the schema of what was sent. */
  function readBackOf (op: Operation, response: Awaited<ReturnType<typeof send>>, url: string): { url: string, schema: Schema } | undefined {
    const id = (jsonOf(response) as { id?: string }).id
    const collection = /^\/v1\/(events|companies|api-keys|webhooks)/.exec(url)?.[1]
    const schemas: Record<string, Schema> = {
      createEvent: { $ref: '#/components/schemas/EventCreate' },
      updateEvent: { $ref: '#/components/schemas/EventUpdate' },
      createCompany: { $ref: '#/components/schemas/CompanyCreate' },
      updateCompany: { $ref: '#/components/schemas/CompanyUpdate' },
      createApiKey: { $ref: '#/components/schemas/ApiKeyCreate' },
      createWebhook: { $ref: '#/components/schemas/WebhookCreate' }
    }
    const schema = schemas[op.operationId]
    return schema && id && collection ? { url: `/v1/${collection}/${id}`, schema } : undefined
  }

  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ path, method: method.toUpperCase(), op })))

  for (const { path, method, op } of operations) {
    if (ONLY && !ONLY.includes(op.operationId)) continue
    const where = `${method} ${path}`
    const parameters = op.parameters ?? []
    const pools: Record<string, string[]> = { events: fixtures.events, companies: fixtures.companies, 'api-keys': fixtures.apiKeys, webhooks: fixtures.webhooks, imports: fixtures.imports }
    const collection = /^\/v1\/([a-z-]+)/.exec(path)?.[1] ?? ''
    const pathParams = fc.record(Object.fromEntries(parameters.filter((p) => p.in === 'path').map((p) => [p.name,
      p.name === 'id' ? idArb(pools[collection] ?? []) : p.name === 'delivery_id' ? idArb(fixtures.deliveries) : fc.oneof(arbitraryOf(p.schema, doc).map((v) => encodeURIComponent(String(v))), fc.constantFrom('validation-error', 'not-found', 'client-error', ...idJunk))
    ])))
    const overrides: Record<string, fc.Arbitrary<unknown>> = {
      company_id: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...fixtures.companies) }, { weight: 1, arbitrary: fc.uuid() }),
      // Webhook targets: public literal addresses (accepted), loopback and names that do not resolve (refused).
      ...(collection === 'webhooks' ? { url: fc.oneof(httpUrl, fc.constantFrom('https://127.0.0.1/x', 'http://[::1]/', 'https://169.254.169.254/latest', 'https://10.0.0.1/')) } : {}),
      cursor: fc.oneof(fc.constantFrom('eyJ2IjoxfQ', 'eyJ2IjoxLCJmIjoiYWJjIiwiayI6W119', 'not-a-cursor', '%00'), fc.base64String({ maxLength: 200 }))
    }
    const query = queryArb(parameters.filter((p) => p.in === 'query'), doc, overrides)
    const bodies = Object.entries(op.requestBody?.content ?? {})
    const body: fc.Arbitrary<{ body?: Body, contentType?: string }> = bodies.length === 0
      // Operations without a body still get one now and then.
      ? fc.oneof({ weight: 9, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: rawBody.map((b) => ({ body: b })) })
      : fc.constantFrom(...bodies).chain(([contentType, media]) => fc.oneof(
        { weight: 8, arbitrary: mutated(/^application\/(merge-patch\+)?json$/.test(contentType) ? arbitraryOf(media.schema ?? {}, doc, overrides) : importBody(fixtures)).map((value) => ({ body: bodyFor(contentType, value), contentType })) },
        { weight: 2, arbitrary: rawBody.map((b) => ({ body: b, contentType })) }
      ))
    const request = fc.record({ path: pathParams, query, headers: headersArb(fixtures), body }).map(({ path: params, query: q, headers: h, body: b }): Request => {
      const url = path.replace(/\{([a-z_]+)\}/g, (_, name: string) => String((params as Record<string, unknown>)[name]))
      const { auth, ...rest } = h
      const headers = Object.fromEntries(Object.entries({ ...auth, ...rest }).filter(([, v]) => v !== undefined)) as Record<string, string>
      return { method, url: q ? `${url}?${q}` : url, headers, ...b }
    })

    const opStarted = Date.now()
    const result = await fc.check(fc.asyncProperty(request, async (req) => {
      const response = await send(req)
      stats.operations.add(op.operationId)
      const problems = check(op, `${req.method} ${req.url.slice(0, 200)}`, response)
      if (problems.length > 0) throw new Error(problems.join('\n'))
      const ok = response.statusCode >= 200 && response.statusCode < 300
      if (ok && response.headers['idempotent-replayed'] === undefined) {
        // Bytes that are not UTF-8 would be read with U+FFFD in their place: accepting them changes the input.
        if (op.requestBody && req.body?.kind === 'raw' && Buffer.isBuffer(req.body.data) && !isUtf8(req.body.data)) {
          throw new Error(`${req.method} ${req.url}: a body that is not UTF-8 was accepted (${response.statusCode})`)
        }
        const target = req.body?.kind === 'json' ? readBackOf(op, response, req.url) : undefined
        if (target) {
          const sources = (req.body as { value: { sources?: Array<{ url?: string }> } }).value.sources
          const reused = sources?.some((s) => typeof s.url === 'string' && seenSourceUrls.has(normaliseSourceUrl(s.url)))
          const got = await send({ method: 'GET', url: target.url, headers: admin })
          const readProblems = check(operations.find((o) => o.method === 'GET' && o.path === target.url.replace(/[^/]+$/, '{id}'))!.op, `read back ${target.url}`, got)
          if (readProblems.length > 0) throw new Error(readProblems.join('\n'))
          if (got.statusCode === 200) {
            stats.readBacks++
            let sent = (req.body as { value: unknown }).value
            // A source cited before keeps the fields it was first stored with: only its URL must come back.
            if (reused) sent = { ...(sent as object), sources: sources!.map((s) => ({ url: s.url })) }
            const diff = readBackDiff(target.schema, sent, jsonOf(got), doc)
            if (diff.length > 0) stats.failures.changed++
            if (diff.length > 0) throw new Error(`${req.method} ${req.url} did not read back unchanged:\n${diff.join('\n')}`)
          }
          for (const s of sources ?? []) if (typeof s.url === 'string') seenSourceUrls.add(normaliseSourceUrl(s.url))
        }
        const id = (response.statusCode === 201 ? (jsonOf(response) as { id?: string }).id : undefined)
        if (id && pools[collection] && op.operationId !== 'createApiKey') pools[collection]!.push(id)
      }
    }), { seed: SEED, numRuns: RUNS })
    if (result.failed) {
      t.fail(`${where}: ${brief(result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance), 2000)}\n` +
        `  counterexample (seed ${result.seed}, path ${result.counterexamplePath}): ${brief(JSON.stringify(result.counterexample?.[0], shorten), 1500)}`)
    } else {
      t.pass(`${where}: ${result.numRuns} runs in ${Date.now() - opStarted} ms`)
    }
  }

  const documented = new Set(operations.map((o) => o.op.operationId))
  t.same([...documented].filter((id) => !stats.operations.has(id)), [], `every one of the ${documented.size} documented operations was exercised`)
  t.ok(stats.requests >= 10_000, `${stats.requests} requests`)
  const seconds = ((Date.now() - started) / 1000).toFixed(1)
  const n = (x: number) => x.toLocaleString('en-US')
  t.comment(`statuses: ${[...stats.statuses].sort(([a], [b]) => a - b).map(([s, c]) => `${s}×${c}`).join(' ')}`)
  const { serverErrors, undocumented, mismatches: wrong, changed } = stats.failures
  t.comment(`adversarial: ${n(stats.requests)} requests over ${documented.size} operations, ${n(serverErrors)} responses 5xx, ` +
    `${n(undocumented)} undocumented statuses, ${n(wrong)} schema mismatches, ${n(stats.readBacks - changed)} writes read back unchanged ` +
    `(${n(changed)} changed; seed ${SEED}, ${seconds} s)`)
})

const brief = (text: string | undefined, max: number) => text === undefined || text.length <= max ? String(text) : `${text.slice(0, max)}… (${text.length} characters)`
/** Long strings and buffers cut short, so that a counterexample fits a report. */
function shorten (_key: string, value: unknown): unknown {
  if (typeof value === 'string') return brief(value, 200)
  if (value !== null && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') return `<${(value as { data: number[] }).data.length} bytes: ${Buffer.from((value as { data: number[] }).data).subarray(0, 40).toString('hex')}…>`
  return value
}

/** The body of an import: NDJSON or CSV lines made from events (valid-ish), mutated like the JSON bodies. */
function importBody (fixtures: Fixtures): fc.Arbitrary<unknown> {
  return fc.array(fc.record({
    company_id: fc.constantFrom(...fixtures.companies),
    region: fc.constantFrom(...REGIONS),
    service: anyText,
    action: fc.constantFrom('exit', 'suspend', 'continue', 'bogus'),
    date: formats.date!,
    sources: fc.tuple(httpUrl).map(([url]) => [{ url }])
  }), { minLength: 1, maxLength: 5 })
}

function bodyFor (contentType: string, value: unknown): Body {
  if (contentType === 'application/x-ndjson') {
    return { kind: 'raw', data: Array.isArray(value) ? value.map((v) => JSON.stringify(v) ?? '').join('\n') + '\n' : String(JSON.stringify(value)) }
  }
  if (contentType === 'text/csv') {
    const rows = (Array.isArray(value) ? value : []).map((r) => (isObject(r) ? r : {}) as Record<string, unknown>)
    const cell = (v: unknown) => `"${String(typeof v === 'object' ? JSON.stringify(v) : v).replaceAll('"', '""')}"`
    const header = 'company_id,region,service,action,date,source_urls'
    return { kind: 'raw', data: [header, ...rows.map((r) => [r.company_id, r.region, r.service, r.action, r.date, (r.sources as Array<{ url: string }> | undefined)?.[0]?.url].map(cell).join(','))].join('\r\n') + '\r\n' }
  }
  return { kind: 'json', value }
}

t.test('paths that Fastify refuses before routing answer as documented problems', async (t) => {
  const app = await buildTestApp(t)
  const admin = await authHeader(app, ['admin'])
  for (const url of FRAMEWORK_REFUSED_PATHS) {
    const res = await app.inject({ url, headers: admin })
    t.ok([400, 404].includes(res.statusCode), `${url.slice(0, 40)}: ${res.statusCode}`)
    t.match(res.headers['content-type'], /^application\/problem\+json/, `${url.slice(0, 40)}: a problem`)
  }
})
