import { createHash } from 'node:crypto'
import { AjvCompiler } from '@fastify/ajv-compiler'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { Ajv, type Plugin, type ValidateFunction } from 'ajv'
import type { TSchema } from '@sinclair/typebox'
import ajvFormats from 'ajv-formats'
import type { FastifyServerOptions } from 'fastify'
import type { FieldError } from './errors.js'
import { patternMessages } from './schemas/common.js'
import { isValidLei } from './domain/lei.js'
import { isCountryCode, isRegionCode } from './domain/regions.js'
import { isCalendarDate } from './domain/time.js'

/** The formats our schemas name beyond ajv-formats; the OpenAPI document names them too. */
export const customFormats: Record<string, (value: string) => boolean> = {
  // Replaces ajv-formats' `date`, which takes year 0000 that Postgres refuses.
  date: isCalendarDate,
  'iso-3166-region': isRegionCode,
  'iso-3166-1-alpha-2': isCountryCode,
  lei: (value) => isValidLei(value.toUpperCase()),
  bcp47: (value) => {
    try {
      return Intl.getCanonicalLocales(value).length === 1
    } catch {
      return false
    }
  }
}

const addCustomFormats: Plugin<unknown> = (ajv) => {
  for (const [name, validate] of Object.entries(customFormats)) ajv.addFormat(name, { type: 'string', validate })
  return ajv
}

const ajvOptions = {
  // Fastify's default silently drops unknown fields; the contract refuses them.
  removeAdditional: false,
  // For `type: ["string", "null"]`, the OpenAPI 3.1 form of nullable fields.
  allowUnionTypes: true,
  // Keeps the failing value on each error, to name it in messages ("unknown region code 'XX'").
  verbose: true
}

// Compilers are kept for the whole process: the tests and the multi-instance checks build many apps from the same
// schemas, and compiling them again took most of each app's start (0.6-1 s).
const validatorFactory = AjvCompiler()
const serializerFactory = SerializerSelector()
const serializers = new Map<string, (value: unknown) => string>()
// Fastify hands each app its own copy of a route's schema, which Ajv's cache (by object) never recognises.
const validators = new Map<string, ReturnType<ReturnType<typeof validatorFactory>>>()
const digest = (value: unknown) => createHash('sha256').update(JSON.stringify(value) ?? '').digest('base64')

/**
 * Query strings and path parameters arrive as text and are coerced to their schema types; bodies are
 * JSON and are never coerced, so `"service": 123` is a 400 rather than the string "123".
 */
export function schemaController (): NonNullable<FastifyServerOptions['schemaController']> {
  return {
    compilersFactory: {
      buildValidator (externalSchemas, serverOptions) {
        const build = (coerceTypes: 'array' | false) => validatorFactory(externalSchemas, {
          customOptions: { ...ajvOptions, coerceTypes },
          // ajv-formats goes first, so that our formats replace its `date` (CommonJS: its plugin is `.default`).
          plugins: [[ajvFormats.default, { mode: 'full' }] as [Plugin<unknown>, unknown], addCustomFormats]
        })
        const coercing = build('array')
        const strict = build(false)
        const context = digest(externalSchemas)
        return (route) => {
          const compile = route.httpPart === 'body' ? strict : coercing
          const key = `${context}:${compile === strict ? 'strict' : 'coercing'}:${digest(route.schema)}`
          let validator = validators.get(key)
          if (!validator) validators.set(key, validator = compile(route))
          return validator
        }
      },
      buildSerializer (externalSchemas, serializerOptions) {
        const compile = serializerFactory(externalSchemas, serializerOptions)
        const context = digest([externalSchemas, serializerOptions])
        return (route) => {
          const key = `${context}:${digest(route.schema)}`
          let serializer = serializers.get(key)
          if (!serializer) serializers.set(key, serializer = compile(route))
          return serializer
        }
      }
    }
  }
}

/** The parts of an Ajv error that messages are made from (Fastify's validation errors have them too). */
export interface AjvErrorLike { keyword: string, instancePath: string, params: object, message?: string | undefined, data?: unknown }

const formatRules: Record<string, { rule: string, message: (value: unknown) => string }> = {
  'iso-3166-region': { rule: 'must be an ISO 3166 code', message: (v) => `unknown region code '${String(v)}'` },
  'iso-3166-1-alpha-2': { rule: 'must be an ISO 3166-1 alpha-2 code', message: (v) => `unknown country code '${String(v)}'` },
  lei: { rule: 'must be an ISO 17442 LEI', message: () => 'must be a 20-character LEI whose check digits verify (ISO 17442)' },
  bcp47: { rule: 'must be a BCP 47 language tag', message: (v) => `'${String(v)}' is not a well-formed BCP 47 language tag` },
  date: { rule: 'must be a date', message: () => 'must be a real calendar date, YYYY-MM-DD' },
  'date-time': { rule: 'must be a date-time', message: () => 'must be an RFC 3339 date-time' },
  uri: { rule: 'must be a URL', message: () => 'must be an absolute http(s) URL' }
}

/** A field error, and the short rule for the `detail` line, from one Ajv error. */
export function describeValidationError (context: string, error: AjvErrorLike): FieldError & { rule: string } {
  const params = error.params as Record<string, unknown>
  let pointer = error.instancePath
  let message = error.message ?? 'is invalid'
  let rule = message
  if (error.keyword === 'required') {
    pointer += `/${String(params.missingProperty)}`
    message = rule = 'is required'
  } else if (error.keyword === 'additionalProperties') {
    pointer += `/${String(params.additionalProperty)}`
    message = rule = context === 'querystring' ? 'is not a known query parameter' : 'is not an accepted field'
  } else if (error.keyword === 'format' && formatRules[String(params.format)]) {
    const format = formatRules[String(params.format)]!
    rule = format.rule
    message = format.message(error.data)
  } else if (error.keyword === 'pattern' && patternMessages.has(String(params.pattern))) {
    message = rule = patternMessages.get(String(params.pattern))!
  }
  return { in: context, pointer, message, rule }
}

/**
 * A validator for bodies that do not come through a route (lines of a bulk import), with the options, formats
 * and strictness of the route bodies, so that a line is judged exactly as the same object sent alone would be.
 */
export function compileBodyValidator (schema: TSchema, references: TSchema[] = []): ValidateFunction {
  const ajv = new Ajv({ ...ajvOptions, coerceTypes: false, strict: false })
  ajvFormats.default(ajv as never, { mode: 'full' })
  addCustomFormats(ajv as never, undefined)
  for (const reference of references) ajv.addSchema(reference)
  return ajv.compile(schema)
}
