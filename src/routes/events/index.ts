import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { EXPORT_MEDIA_TYPES, listFormatFor } from '../../domain/export-formats.js'
import { InvalidInput, NotAcceptable } from '../../errors.js'
import { NoQuery, commonProblems, createProblems, problems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
import { CSV_COLUMNS } from '../../services/event-export.js'
import { Event, EventCreate, EventList, EventListQuery, EventUpdate } from '../../schemas/events.js'
import { Facets, FacetsQuery, Timeseries, TimeseriesQuery } from '../../schemas/insight.js'
import { tagged } from '../conditional.js'
import { registerVersionedResource } from '../versioned-resource.js'

const tags = ['events']
const CSV_EXAMPLE = `${CSV_COLUMNS.join(',')}\r\n01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6f,01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e,Amazon,RU,` +
  'Retail shipping,suspend,2022-03-08,day,,Amazon suspended shipment of retail products.,,1,' +
  'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine,,2026-11-26T15:11:08.123456Z,2026-11-26T15:11:08.123456Z,1\r\n'

const eventsRoutes: FastifyPluginAsyncTypebox<{ exportTimeoutMs: number }> = async (app, { exportTimeoutMs }) => {
  const { events } = app.services

  app.get('', {
    config: { scope: 'read' },
    // An export streams for as long as it takes, within its own bound; a page is bounded by the statement timeout.
    handlerTimeout: exportTimeoutMs,
    schema: {
      security: readSecurity,
      operationId: 'listEvents',
      summary: 'List or export events',
      description: 'Live events matching every given filter, keyset-paginated. Comma-separated lists match any of their values; ' +
        'a country code in `region` also matches its subdivisions. Unknown parameters are refused.\n\n' +
        'With `Accept: text/csv` or `Accept: application/x-ndjson`, the answer is an export instead of a page: every matching ' +
        'event, in the same order, streamed (`limit` and `cursor` do not apply and are refused). NDJSON has one Event per line. ' +
        `CSV follows RFC 4180 (a header row, CRLF line ends, quotes around cells holding a comma, a quote or any line break) with the fixed columns ${CSV_COLUMNS.map((c) => `\`${c}\``).join(', ')}; ` +
        '`source_urls` is space-separated, `source_licenses` holds the licences of the sources, each once, separated by `; ` (the ' +
        'attribution their data asks for, such as the Yale list\'s CC BY-NC-SA 4.0), empty cells are null, and a text cell that starts with `=`, `+`, `-`, `@`, a tab or a ' +
        "carriage return gets a leading `'` so that spreadsheets show it as text. An `Accept` that allows none of JSON, CSV " +
        'and NDJSON is a 406.\n\n' +
        'With `known_at`, the page answers from the events as they were recorded at that moment (not with `q`, nor in an export); ' +
        'the `company` and `source_id` filters match today\'s names and citations.',
      tags,
      querystring: EventListQuery,
      response: {
        200: {
          description: 'A page of events, or with an export media type in `Accept`, every matching event.',
          content: {
            'application/json': { schema: EventList },
            'text/csv': { schema: Type.String({ description: 'RFC 4180 CSV with a header row.', examples: [CSV_EXAMPLE] }) },
            'application/x-ndjson': { schema: Type.String({ description: 'One Event as JSON per line.' }) }
          }
        },
        ...commonProblems,
        406: problems[406]
      }
    }
  }, async (req, reply) => {
    const format = listFormatFor(req.headers.accept)
    if (format === undefined) throw new NotAcceptable('application/json, text/csv or application/x-ndjson')
    const knownAt = req.query.known_at
    if (knownAt !== undefined && req.query.q !== undefined) {
      throw new InvalidInput({ in: 'querystring', pointer: '/q', message: 'cannot be combined with known_at: past search documents are not kept' })
    }
    if (format === 'json') return knownAt === undefined ? events.list(req.query) : app.services.knownAt.run(knownAt, () => events.list(req.query))
    if (knownAt !== undefined) throw new InvalidInput({ in: 'querystring', pointer: '/known_at', message: 'does not apply to an export' })
    const given = new URLSearchParams(req.url.split('?')[1] ?? '')
    for (const paging of ['limit', 'cursor']) {
      if (given.has(paging)) throw new InvalidInput({ in: 'querystring', pointer: `/${paging}`, message: 'does not apply to an export, which streams every matching event' })
    }
    const { limit: _limit, cursor: _cursor, ...filters } = req.query
    const stream = await app.services.eventExport.open(filters, format)
    return reply.type(`${EXPORT_MEDIA_TYPES[format]}; charset=utf-8`)
      .header('content-disposition', `attachment; filename="events.${format === 'csv' ? 'csv' : 'ndjson'}"`)
      // The 200's schemas type the JSON page; a stream bypasses serialisation, which the type provider cannot express.
      .send(stream as never)
  })

  app.post('', {
    config: { scope: 'write' },
    schema: {
      operationId: 'createEvent',
      summary: 'Create an event',
      description: 'Records an event. Its sources are stored once per normalised URL and linked; a source cited again keeps ' +
        'its fields and gains the ones it lacked.',
      tags,
      security: writeSecurity,
      querystring: NoQuery,
      body: ref(EventCreate),
      response: {
        201: { ...ref(Event), description: 'The new event.' },
        ...createProblems
      }
    }
  }, async (req, reply) => {
    const event = await events.create(req.body, req.actor)
    reply.code(201).header('location', `/v1/events/${event.id}`)
    return tagged(reply, event)
  })

  app.get('/facets', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'getEventFacets',
      summary: 'Count events per value',
      description: 'Takes the filters of `GET /v1/events` and counts the matching events per value of each requested field, ' +
        'most frequent first. Counts are exact; each field\'s counts add up to the number of matching events.',
      tags,
      querystring: FacetsQuery,
      response: { 200: Facets, ...commonProblems }
    }
  }, async (req) => app.services.eventStats.facets(req.query))

  app.get('/timeseries', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'getEventTimeseries',
      summary: 'Count events per period',
      description: 'Takes the filters of `GET /v1/events` and counts the matching events per month, quarter or year and per ' +
        'action, region or sector, one bucket per period of the range, ready to chart.',
      tags,
      querystring: TimeseriesQuery,
      response: { 200: Timeseries, ...commonProblems }
    }
  }, async (req) => app.services.eventStats.timeseries(req.query))

  registerVersionedResource(app, {
    name: 'Event',
    resourceType: 'event',
    noun: 'event',
    article: 'an',
    tags,
    schema: Event,
    updateSchema: EventUpdate,
    deleteDescription: 'Soft delete: the event disappears from reads; a repeat answers 404. Its history is kept.',
    deleteConflicts: false,
    service: events
  })
}
export default eventsRoutes
