import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { ConditionalGetHeaders, ConditionalWriteHeaders, IdParams, commonProblems, mergePatchBody, problems, readSecurity, ref, writeSecurity } from '../../schemas/common.js'
import { Event, EventCreate, EventList, EventListQuery, EventUpdate } from '../../schemas/events.js'
import { noContent, notModified, tagged, withEtag } from '../conditional.js'

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
      body: ref(EventCreate),
      response: {
        201: { ...ref(Event), description: 'The new event.' },
        ...commonProblems, 401: problems[401], 403: problems[403], 409: problems[409], 413: problems[413], 415: problems[415]
      }
    }
  }, async (req, reply) => {
    const event = await events.create(req.body, req.actor)
    reply.code(201).header('location', `/v1/events/${event.id}`)
    return tagged(reply, event)
  })

  app.get('/:id', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: 'getEvent',
      summary: 'Get an event',
      description: 'One live event, with its ETag.',
      tags,
      params: IdParams,
      headers: ConditionalGetHeaders,
      response: { 200: { ...ref(Event), description: 'The event.' }, 304: notModified, ...commonProblems, 404: problems[404] }
    }
  }, async (req, reply) => withEtag(req, reply, await events.get(req.params.id)))

  app.patch('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: 'updateEvent',
      summary: 'Update an event',
      description: 'JSON Merge Patch (RFC 7396), as `application/merge-patch+json` or `application/json`. ' +
        'A patch that changes nothing keeps the version.',
      tags,
      security: writeSecurity,
      params: IdParams,
      headers: ConditionalWriteHeaders,
      body: mergePatchBody(ref(EventUpdate)),
      response: {
        200: { ...ref(Event), description: 'The event after the change.' },
        ...commonProblems, 401: problems[401], 403: problems[403], 404: problems[404], 409: problems[409], 412: problems[412], 413: problems[413], 415: problems[415]
      }
    }
  }, async (req, reply) => tagged(reply, await events.update(req.params.id, req.body as EventUpdate, req.headers['if-match'], req.actor)))

  app.delete('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: 'deleteEvent',
      summary: 'Delete an event',
      description: 'Soft delete: the event disappears from reads; a repeat answers 404. Its history is kept.',
      tags,
      security: writeSecurity,
      params: IdParams,
      headers: ConditionalWriteHeaders,
      response: {
        204: noContent, ...commonProblems, 401: problems[401], 403: problems[403], 404: problems[404], 412: problems[412]
      }
    }
  }, async (req, reply) => {
    await events.remove(req.params.id, req.headers['if-match'], req.actor)
    reply.code(204)
  })
}
export default eventsRoutes
