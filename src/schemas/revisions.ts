import { Type, type Static, type TSchema } from '@sinclair/typebox'
import { Cursor, DateTime, ListLimit, NextCursor, Nullable, StringEnum, Uuid, ref } from './common.js'

export const RevisionListQuery = Type.Object({
  limit: Type.Optional(ListLimit),
  cursor: Type.Optional(Cursor)
}, { additionalProperties: false })
export type RevisionListQuery = Static<typeof RevisionListQuery>

export const JsonPatchOperation = Type.Object({
  op: StringEnum(['add', 'remove', 'replace', 'move', 'copy', 'test'] as const, { examples: ['replace'] }),
  path: Type.String({ maxLength: 1000, description: 'JSON pointer into the resource.', examples: ['/action'] }),
  value: Type.Optional(Type.Unknown({ description: 'The new value, for add and replace.', examples: ['exit'] })),
  from: Type.Optional(Type.String({ maxLength: 1000 }))
}, { $id: 'JsonPatchOperation', additionalProperties: false, description: 'One RFC 6902 JSON Patch operation.' })

export const RevisionActor = Type.Object({
  api_key_id: Uuid({ description: 'The API key that made the change.' }),
  api_key_name: Type.String({ maxLength: 100, examples: ['newsroom-importer'] })
}, { additionalProperties: false, description: 'Who made the change; null for the system (sample data, the command line, imports run by an operator).' })

export const OPERATIONS = ['created', 'updated', 'deleted', 'restored'] as const

/** The history of one kind of resource, as `GET /v1/<resources>/{id}/revisions` serves it. */
export function revisionListSchema (resource: TSchema & { $id?: string }) {
  const Revision = Type.Object({
    id: Uuid({ description: 'The revision\'s id; the change feed names the same change by it.' }),
    version: Type.Integer({ format: 'int32', minimum: 1, maximum: 2147483647, description: 'The resource\'s version after the change.', examples: [2] }),
    operation: StringEnum(OPERATIONS, { examples: ['updated'] }),
    occurred_at: DateTime({ description: 'When the writing transaction started (UTC, microseconds).' }),
    actor: Nullable(RevisionActor),
    reason: Nullable(Type.String({ maxLength: 500 }), { description: 'The `Change-Reason` the writer gave.', examples: ['Source retracted the report'] }),
    changes: Type.Array(ref(JsonPatchOperation), {
      maxItems: 10000,
      description: 'What changed: an RFC 6902 JSON Patch from the previous version to this one (`updated_at` and `version` left out); ' +
        'for a create, every field is added; for a delete, empty.'
    }),
    data: Type.Union([ref(resource), Type.Null()], { description: 'The resource right after the change; null for a delete.' })
  }, { additionalProperties: false, description: 'One recorded change.' })
  return Type.Object({
    data: Type.Array(Revision, { maxItems: 200 }),
    next_cursor: NextCursor
  }, {
    additionalProperties: false,
    description: 'The resource\'s history, oldest first. History is append-only: the API cannot edit it.',
    examples: [{
      data: [{
        id: '01936f0e-8a10-7cc1-9b8a-4f2a1e3c5d70',
        version: 3,
        operation: 'deleted',
        occurred_at: '2022-03-09T10:00:00.000000Z',
        actor: { api_key_id: '01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d00', api_key_name: 'newsroom-importer' },
        reason: 'Duplicate of another event',
        changes: [],
        data: null
      }],
      next_cursor: null
    }]
  })
}
export type RevisionList = Static<ReturnType<typeof revisionListSchema>>
