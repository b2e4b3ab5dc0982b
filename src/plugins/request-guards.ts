import { isUtf8 } from 'node:buffer'
import type { FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { findUnstorableString, isUnstorableString } from '../domain/text.js'
import { InvalidInput } from '../errors.js'

const UNSTORABLE = 'must not contain NUL characters or unpaired UTF-16 surrogates'
const DECIMAL_INTEGER = /^-?[0-9]+$/

/** Integer query parameters of the route's schema, so that only plain decimal digits reach Ajv's coercion. */
function integerQueryParameters (req: FastifyRequest): string[] {
  const properties = (req.routeOptions.schema?.querystring as { properties?: Record<string, { type?: unknown }> } | undefined)?.properties
  if (!properties) return []
  return Object.keys(properties).filter((name) => properties[name]!.type === 'integer')
}

/**
 * Input checks that schemas cannot express: strings Postgres cannot store (a NUL makes it raise,
 * a lone surrogate is silently replaced), and numbers in query strings that Ajv would coerce from
 * forms such as `0x10` or `1e1`.
 */
export default fp(async (app) => {
  const parseJson = app.getDefaultJsonParser('error', 'error')
  const parseStorableJson = (req: FastifyRequest, body: Buffer, done: (err: Error | null, value?: unknown) => void) => {
    // Bytes that are not UTF-8 would be decoded with U+FFFD in their place: the input would change silently.
    if (!isUtf8(body)) return done(new InvalidInput({ in: 'body', pointer: '', message: 'must be UTF-8 encoded JSON' }), undefined)
    parseJson(req, body.toString('utf8'), (err, value) => {
      if (err) return done(err, undefined)
      const pointer = findUnstorableString(value)
      if (pointer !== undefined) return done(new InvalidInput({ in: 'body', pointer, message: UNSTORABLE }), undefined)
      done(null, value)
    })
  }
  // Only JSON bodies are accepted: anything else, text/plain included, is a 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseStorableJson)
  app.addContentTypeParser('application/merge-patch+json', { parseAs: 'buffer' }, parseStorableJson)

  app.addHook('preValidation', async (req) => {
    // A route whose body schema is keyed by media type skips validation when no body came at all.
    if (req.body === undefined && req.routeOptions.schema?.body !== undefined) {
      throw new InvalidInput({ in: 'body', pointer: '', message: 'is required: send a JSON object' })
    }
    // A route without a query schema reads no query string (the health checks): what it holds cannot reach the database.
    if (req.routeOptions.schema?.querystring === undefined) return
    const query = req.query as Record<string, unknown>
    for (const [name, value] of Object.entries(query)) {
      const values = Array.isArray(value) ? value : [value]
      if (values.some((v) => typeof v === 'string' && isUnstorableString(v))) {
        throw new InvalidInput({ in: 'querystring', pointer: `/${name}`, message: UNSTORABLE })
      }
    }
    for (const name of integerQueryParameters(req)) {
      const value = query[name]
      if (typeof value === 'string' && !DECIMAL_INTEGER.test(value)) {
        throw new InvalidInput({ in: 'querystring', pointer: `/${name}`, message: 'must be a decimal integer' })
      }
    }
  })
}, { name: 'request-guards' })
