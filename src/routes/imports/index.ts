import type { Readable } from 'node:stream'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { InvalidInput, PayloadTooLarge, UnsupportedCharset } from '../../errors.js'
import { IdParams, commonProblems, createProblems, problems, readSecurity, writeSecurity } from '../../schemas/common.js'
import { IMPORT_CSV_COLUMNS, IMPORT_CSV_IGNORED_COLUMNS, Import, ImportAccepted, ImportGetQuery, ImportQuery, type ImportFormat } from '../../schemas/imports.js'
import { IMPORT_BATCH } from '../../services/imports.js'

const tags = ['imports']
const NDJSON = 'application/x-ndjson'
const CSV = 'text/csv'
const NDJSON_EXAMPLE = '{"company":{"name":"Example Retail","country":"FR"},"region":"RU","service":"Online store","action":"suspend",' +
  '"date":"2022-03-10","sources":[{"url":"https://news.example.com/2022/03/10/retail"}],"external_id":"newsroom-2022-0042"}\n'
const CSV_EXAMPLE = 'company_name,company_country,region,service,action,date,summary,external_id,source_urls\r\n' +
  'Example Retail,FR,RU,Online store,suspend,2022-03-10,,newsroom-2022-0042,https://news.example.com/2022/03/10/retail\r\n'

declare module 'fastify' {
  interface FastifyRequest {
    /** The body of an import, unread: the handler streams it. */
    importBody?: Readable
  }
}

const importsRoutes: FastifyPluginAsyncTypebox<{ bodyLimit: number, timeoutMs: number }> = async (app, { bodyLimit, timeoutMs }) => {
  const { imports } = app.services

  // Only here: the body is handed to the handler as a stream (the schema sees an empty string), never buffered.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser([NDJSON, CSV], (req, payload, done) => {
    req.importBody = payload
    done(null, '')
  })

  app.post('', {
    // The answer is small, but the body is a stream that cannot be fingerprinted: Idempotency-Key does not apply.
    config: { scope: 'write', idempotent: false },
    handlerTimeout: timeoutMs,
    schema: {
      operationId: 'createImport',
      summary: 'Import events in bulk',
      description: 'Streams a body of events, by `Content-Type`: `application/x-ndjson` (one event per line) or `text/csv` ' +
        `(a header row, RFC 4180), in UTF-8 (a \`charset\` other than \`utf-8\` is a 415), at most \`IMPORT_BODY_LIMIT_BYTES\`. Lines are read and applied in batches of ${IMPORT_BATCH} as they arrive, ` +
        'so memory does not grow with the body; the answer comes once the whole body is applied (`status` `done`, or `failed`), and ' +
        '`Location` gives every line\'s outcome.\n\n' +
        'Each NDJSON line is an event as in `POST /v1/events`, validated by the same rules, whose company is named either by `company_id` ' +
        'or by `company: { name, country, sector }` (matched to a live company with the same name, ignoring case and accents, and the ' +
        'same country; created when there is none). The line is the whole event: with an `external_id` that a live event has, the ' +
        'event is updated to the line (`updated`), or left alone if equal (`unchanged`); omitted optional fields are null. Every ' +
        'created or updated event and company gets its history row. A line whose `external_id` an earlier line of the same import ' +
        'had is rejected (`duplicate of line N`).\n\n' +
        `CSV columns (any order, header required): ${IMPORT_CSV_COLUMNS.map((c) => `\`${c}\``).join(', ')}: \`region\`, \`service\`, ` +
        '`action`, `date`, `source_urls` (space-separated) and `company_id` or `company_name` are required; an empty cell is null. ' +
        `The export's ${IMPORT_CSV_IGNORED_COLUMNS.map((c) => `\`${c}\``).join(', ')} are ignored, so an export can be imported back. ` +
        'Line numbers count NDJSON lines from 1 (blank lines included, and rejected; a byte order mark before the first is dropped), and CSV data records from 1 (the header is not ' +
        'counted; a record with quoted line breaks is one). A record that is not valid CSV is rejected; after a quote error, what ' +
        'follows up to the next readable record belongs to it (after an unclosed quote, the rest of the body).\n\n' +
        '`format=yale-celi` reads the Yale CELI list of companies in Russia: each row becomes a company (by name and country) and an ' +
        'event in `RU`, service `All operations`, the grade as action (A exit, B suspend, C scale_back, D pause_new_business, F continue), ' +
        'Yale\'s description as summary, dated `date`, citing the Yale list (kind `dataset`, licence CC BY-NC-SA 4.0); its `external_id` ' +
        'is `yale-celi:` and a slug and hash of the name and country, so a second import of the same list changes nothing. A body with ' +
        'a `snapshot_date` column is a 400 in this format: it is the dated copies. ' +
        '`format=yale-celi-snapshots` reads the dated copies: one event per row dated `snapshot_date`, whose `external_id` also carries ' +
        'the date, which makes a dated history of postures for `GET /v1/status`. A company listed twice (same name and country) is a ' +
        'duplicate, rejected and reported; so is a row whose country is not one of the list\'s (an empty country is none). Rejections ' +
        'name the columns as the header does (`/yaleGrade`).\n\n' +
        'Nothing is silently dropped: once the import is over, `counts` add up to the number of lines. The whole import must arrive ' +
        'within `REQUEST_TIMEOUT_MS` and be applied within `IMPORT_TIMEOUT_MS`. `Idempotency-Key` does not apply; use `external_id`s ' +
        'to make a repeat harmless.',
      tags,
      security: writeSecurity,
      querystring: ImportQuery,
      body: {
        content: {
          [NDJSON]: { schema: Type.String({ maxLength: 1_073_741_824, description: 'One event as JSON per line.', examples: [NDJSON_EXAMPLE] }) },
          [CSV]: { schema: Type.String({ maxLength: 1_073_741_824, description: 'RFC 4180 CSV with a header row.', examples: [CSV_EXAMPLE] }) }
        }
      },
      response: {
        202: {
          ...ImportAccepted,
          description: 'The import is over: `done`, or `failed` (an atomic import with a rejected line). Its outcome is at `Location`.',
          headers: { location: Type.String({ maxLength: 100, description: 'The import: `/v1/imports/{id}`.', examples: ['/v1/imports/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d70'] }) }
        },
        ...createProblems
      }
    }
  }, async (req, reply) => {
    const [mediaType, ...parameters] = (req.headers['content-type'] ?? '').split(';').map((p) => p.trim().toLowerCase())
    const charset = parameters.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"(.*)"$/, '$1')
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw new UnsupportedCharset(charset)
    const format: ImportFormat = req.query.format ?? (mediaType === CSV ? 'csv' : 'ndjson')
    if ((format === 'ndjson') !== (mediaType === NDJSON)) {
      throw new InvalidInput({ in: 'querystring', pointer: '/format', message: `${format} needs Content-Type ${format === 'ndjson' ? NDJSON : CSV}` })
    }
    if (format === 'yale-celi' && req.query.date === undefined) {
      throw new InvalidInput({ in: 'querystring', pointer: '/date', message: 'is required with format=yale-celi: the day the list was captured' })
    }
    if (format !== 'yale-celi' && req.query.date !== undefined) {
      throw new InvalidInput({ in: 'querystring', pointer: '/date', message: 'applies to format=yale-celi only' })
    }
    const declared = Number(req.headers['content-length'])
    if (declared > bodyLimit) throw new PayloadTooLarge(bodyLimit)
    const result = await imports.run(req.importBody!, {
      format, mode: req.query.mode ?? 'partial', date: req.query.date, actor: req.actor, bodyLimit
    })
    return reply.code(202).header('location', `/v1/imports/${result.id}`).send(result)
  })

  app.get('/:id', {
    config: { scope: 'read' },
    schema: {
      operationId: 'getImport',
      summary: 'Get an import and its outcome',
      description: 'Where an import stands, the outcome counts of its lines, its progress, and its rejected lines (`errors`: line, ' +
        'field, message), in line order, `limit` at a time; pass `errors_next_cursor` back as `cursor` for the next ones.',
      tags,
      security: readSecurity,
      params: IdParams,
      querystring: ImportGetQuery,
      response: { 200: { ...Import, description: 'The import.' }, ...commonProblems, 404: problems[404] }
    }
  }, async (req) => imports.get(req.params.id, req.query))
}
export default importsRoutes
