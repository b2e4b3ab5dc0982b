import { createHash } from 'node:crypto'
import { AjvCompiler } from '@fastify/ajv-compiler'
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import type { Plugin } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { FastifyServerOptions } from 'fastify'
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
        return (route) => (route.httpPart === 'body' ? strict : coercing)(route)
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
