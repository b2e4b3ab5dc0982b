import { AjvCompiler } from '@fastify/ajv-compiler'
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

/**
 * Query strings and path parameters arrive as text and are coerced to their schema types; bodies are
 * JSON and are never coerced, so `"service": 123` is a 400 rather than the string "123".
 */
export function schemaController (): NonNullable<FastifyServerOptions['schemaController']> {
  const factory = AjvCompiler()
  return {
    compilersFactory: {
      buildValidator (externalSchemas, serverOptions) {
        const build = (coerceTypes: 'array' | false) => factory(externalSchemas, {
          customOptions: { ...ajvOptions, coerceTypes },
          // ajv-formats goes first, so that our formats replace its `date` (CommonJS: its plugin is `.default`).
          plugins: [[ajvFormats.default, { mode: 'full' }] as [Plugin<unknown>, unknown], addCustomFormats]
        })
        const coercing = build('array')
        const strict = build(false)
        return (route) => (route.httpPart === 'body' ? strict : coercing)(route)
      }
    }
  }
}
