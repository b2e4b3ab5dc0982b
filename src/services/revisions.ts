import { v7 as uuidv7 } from 'uuid'
import type { Executor } from '../db/client.js'
import { revisions } from '../db/schema.js'

/** Who made a change: the API key's id, or null for the system (sample data, command line). */
export interface Actor { apiKeyId: string | null }
export const SYSTEM_ACTOR: Actor = { apiKeyId: null }

type Revision = Pick<typeof revisions.$inferInsert, 'resourceType' | 'resourceId' | 'operation' | 'version' | 'data'>

/** Appends the history row of a write; call it inside the write's own transaction. */
export async function recordRevision (ex: Executor, actor: Actor, revision: Revision): Promise<void> {
  await ex.insert(revisions).values({ id: uuidv7(), apiKeyId: actor.apiKeyId, ...revision })
}
