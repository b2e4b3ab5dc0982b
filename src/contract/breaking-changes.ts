import { Converter } from '@apiture/openapi-down-convert'
import openapiDiff from 'openapi-diff'

type Json = Record<string, unknown>

/**
 * An OpenAPI 3.1 document as OpenAPI 3.0, which openapi-diff reads. The converter turns `type: [T, "null"]` into
 * `nullable`; a `{ "type": "null" }` branch of an `anyOf` (a nullable union) it leaves, so it becomes `nullable` here.
 */
function toOpenApi30 (document: Json): Json {
  const converted = new Converter(structuredClone(document), { verbose: false, deleteExampleWithId: true, allOfTransform: false }).convert() as Json
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit)
    if (node === null || typeof node !== 'object') return
    const schema = node as Json
    if (Array.isArray(schema.anyOf) && schema.anyOf.some((branch) => (branch as Json)?.type === 'null')) {
      schema.anyOf = schema.anyOf.filter((branch) => (branch as Json)?.type !== 'null')
      schema.nullable = true
    }
    Object.values(schema).forEach(visit)
  }
  visit(converted)
  return converted
}

export interface BreakingChange { code: string, where: string }

// The contract lets v1 grow by new response fields (clients ignore fields they do not know), which openapi-diff
// counts as breaking when a response schema is closed (`additionalProperties: false`).
const ALLOWED = new Set(['response.body.scope.add'])

/** The changes from `before` to `after` that break a client written against `before`, as openapi-diff classifies them, less what the contract allows. */
export async function breakingChanges (before: Json, after: Json): Promise<BreakingChange[]> {
  const spec = (document: Json, location: string) => ({ content: JSON.stringify(toOpenApi30(document)), location, format: 'openapi3' as const })
  const outcome = await openapiDiff.diffSpecs({ sourceSpec: spec(before, 'before'), destinationSpec: spec(after, 'after') })
  if (!outcome.breakingDifferencesFound) return []
  return outcome.breakingDifferences.filter((d) => !ALLOWED.has(d.code)).map((d) => ({
    code: d.code,
    where: [...d.sourceSpecEntityDetails, ...d.destinationSpecEntityDetails].map((e) => e.location).join(' → ')
  }))
}
