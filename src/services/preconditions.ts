import { etagListMatches, etagOf } from '../domain/etag.js'
import { PreconditionFailed } from '../errors.js'

/** Refuses a write whose If-Match names another version than the one locked for it. */
export function checkIfMatch (ifMatch: string | undefined, version: number): void {
  if (ifMatch !== undefined && !etagListMatches(ifMatch, version)) throw new PreconditionFailed(ifMatch, etagOf(version))
}
