import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { etagListMatches, etagOf } from '../domain/etag.js'

export const notModified = Type.Null({ description: 'Not modified: `If-None-Match` names the current ETag.' })
export const noContent = Type.Null({ description: 'Deleted.' })

/** Sends a versioned resource with its ETag. */
export function tagged<T extends { version: number }> (reply: FastifyReply, resource: T): T {
  reply.header('etag', etagOf(resource.version))
  return resource
}

/** Sends a versioned resource with its ETag, or a bare 304 when the client already holds this version. */
export function withEtag<T extends { version: number }> (req: FastifyRequest, reply: FastifyReply, resource: T): T | undefined {
  tagged(reply, resource)
  const ifNoneMatch = req.headers['if-none-match']
  if (ifNoneMatch !== undefined && etagListMatches(ifNoneMatch, resource.version)) {
    reply.code(304)
    return undefined
  }
  return resource
}
