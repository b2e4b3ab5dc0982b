import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { TSchema } from '@sinclair/typebox'
import {
  ConditionalGetHeaders, ConditionalWriteHeaders, IdParams, NoQuery, ResourceQuery, bodyProblems, commonProblems, mergePatchBody, problems, readSecurity, ref, writeSecurity
} from '../schemas/common.js'
import { RevisionListQuery, revisionListSchema } from '../schemas/revisions.js'
import type { Actor } from '../services/revisions.js'
import { noContent, notModified, tagged, withEtag } from './conditional.js'

type App = Parameters<FastifyPluginAsyncTypebox>[0]

/** What GET, PATCH and DELETE on `/{id}` need to know about one kind of versioned, soft-deleted resource. */
export interface VersionedResource<Resource extends { version: number }, Patch> {
  /** Names the operations: getEvent, updateEvent, deleteEvent. */
  name: string
  resourceType: 'event' | 'company'
  /** The resource in words, and its article: "event", "an". */
  noun: string
  article: 'a' | 'an'
  tags: string[]
  schema: TSchema
  updateSchema: TSchema
  deleteDescription: string
  /** Whether a delete can conflict with other data (a company with events). */
  deleteConflicts: boolean
  service: {
    get: (id: string) => Promise<Resource>
    update: (id: string, patch: Patch, ifMatch: string | undefined, actor: Actor) => Promise<Resource>
    remove: (id: string, ifMatch: string | undefined, actor: Actor) => Promise<void>
    restore: (id: string, actor: Actor) => Promise<Resource>
  }
}

/**
 * Registers GET (with ETag and 304), PATCH (JSON Merge Patch with If-Match) and soft DELETE on `/:id`,
 * and the resource's history: `/:id/revisions` and `/:id/restore`.
 */
export function registerVersionedResource<Resource extends { version: number }, Patch> (app: App, spec: VersionedResource<Resource, Patch>) {
  const { name, noun, article, tags, schema, service } = spec
  const writeProblems = { ...commonProblems, 403: problems[403], 404: problems[404], 412: problems[412], ...bodyProblems }

  app.get('/:id', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: `get${name}`,
      summary: `Get ${article} ${noun}`,
      description: `One live ${noun}, with its ETag (its version); with \`known_at\`, the ${noun} as it was recorded then.`,
      tags,
      params: IdParams,
      querystring: ResourceQuery,
      headers: ConditionalGetHeaders,
      response: { 200: { ...ref(schema), description: `The ${noun}.` }, 304: notModified, ...commonProblems, 404: problems[404] }
    }
  }, async (req, reply) => {
    const { known_at: knownAt } = req.query
    const resource = knownAt === undefined
      ? await service.get(req.params.id)
      : await req.server.services.revisions.recordedState(spec.resourceType, req.params.id, knownAt) as Resource
    return withEtag(req, reply, resource)
  })

  app.patch('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: `update${name}`,
      summary: `Update ${article} ${noun}`,
      description: 'JSON Merge Patch (RFC 7396), as `application/merge-patch+json` or `application/json`. ' +
        'A patch that changes nothing keeps the version.',
      tags,
      security: writeSecurity,
      params: IdParams,
      querystring: NoQuery,
      headers: ConditionalWriteHeaders,
      body: mergePatchBody(ref(spec.updateSchema)),
      response: {
        200: { ...ref(schema), description: `The ${noun} after the change.` },
        ...writeProblems,
        409: problems[409]
      }
    }
    // The body was validated against the update schema for its media type.
  }, async (req, reply) => tagged(reply, await service.update(req.params.id, req.body as Patch, req.headers['if-match'], req.actor)))

  app.delete('/:id', {
    config: { scope: 'write' },
    schema: {
      operationId: `delete${name}`,
      summary: `Delete ${article} ${noun}`,
      description: spec.deleteDescription,
      tags,
      security: writeSecurity,
      params: IdParams,
      querystring: NoQuery,
      headers: ConditionalWriteHeaders,
      response: { 204: noContent, ...writeProblems, ...(spec.deleteConflicts ? { 409: problems[409] } : {}) }
    }
  }, async (req, reply) => {
    await service.remove(req.params.id, req.headers['if-match'], req.actor)
    reply.code(204)
  })

  app.get('/:id/revisions', {
    config: { scope: 'read' },
    schema: {
      security: readSecurity,
      operationId: `list${name}Revisions`,
      summary: `The history of ${article} ${noun}`,
      description: `Every create, update, delete and restore of the ${noun}, oldest first: who made it (the API key), when, why ` +
        '(`Change-Reason`), what changed (a JSON Patch) and the result. Deleted resources keep their history. ' +
        'History cannot be edited through the API.',
      tags,
      params: IdParams,
      querystring: RevisionListQuery,
      response: { 200: revisionListSchema(schema), ...commonProblems, 404: problems[404] }
    }
  }, async (req) => req.server.services.revisions.list(spec.resourceType, req.params.id, req.query))

  app.post('/:id/restore', {
    config: { scope: 'write' },
    schema: {
      operationId: `restore${name}`,
      summary: `Restore a deleted ${noun}`,
      description: `Undoes a delete: the ${noun} is live again as it was when deleted, with a new version and a \`restored\` ` +
        `revision. Restoring a live ${noun} is a 409${spec.resourceType === 'event' ? ', and so is restoring an event whose company is deleted or whose external_id was taken since' : ', and so is one whose lei or wikidata_id was taken since'}.`,
      tags,
      security: writeSecurity,
      params: IdParams,
      querystring: NoQuery,
      response: { 200: { ...ref(schema), description: `The restored ${noun}.` }, ...writeProblems, 409: problems[409] }
    }
  }, async (req, reply) => tagged(reply, await service.restore(req.params.id, req.actor)))
}
