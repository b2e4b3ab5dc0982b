import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { NoQuery, commonProblems, createProblems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
import { Event, EventCreate, EventList, EventListQuery, EventUpdate } from '../../schemas/events.js'
import { Facets, FacetsQuery, Timeseries, TimeseriesQuery } from '../../schemas/insight.js'
import { tagged } from '../conditional.js'
import { registerVersionedResource } from '../versioned-resource.js'

const tags = ['events']

const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { events } = app.services

  app.get('', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'listEvents',
      summary: 'List events',
      description: 'Live events matching every given filter, keyset-paginated. Comma-separated lists match any of their values; ' +
        'a country code in `region` also matches its subdivisions. Unknown parameters are refused.',
      tags,
      querystring: EventListQuery,
      response: { 200: EventList, ...commonProblems }
    }
  }, async (req) => events.list(req.query))

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
