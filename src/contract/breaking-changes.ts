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

/** A schema with every `$ref` to a component replaced by a copy of it (ours have no cycles). */
function inlined (node: unknown, schemas: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => inlined(item, schemas))
  if (node === null || typeof node !== 'object') return node
  const ref = (node as Json).$ref
  if (typeof ref === 'string' && ref.startsWith('#/components/schemas/')) return inlined(schemas[ref.slice(21)], schemas)
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inlined(value, schemas)]))
}

/** A schema that allows properties it does not name: what a client reading a response may assume. */
function opened (node: unknown): unknown {
  if (Array.isArray(node)) return node.map(opened)
  if (node === null || typeof node !== 'object') return node
  return Object.fromEntries(Object.entries(node).filter(([key, value]) => !(key === 'additionalProperties' && value === false))
    .map(([key, value]) => [key, opened(value)]))
}

type Slot = 'request' | 'response'

/** Every request and response body schema of a document, by where it is, as a holder that can replace it. */
function bodySchemas (document: Json): Map<string, { slot: Slot, media: Json }> {
  const found = new Map<string, { slot: Slot, media: Json }>()
  for (const [path, pathItem] of Object.entries((document.paths ?? {}) as Record<string, Json>)) {
    for (const [method, operation] of Object.entries(pathItem)) {
      const op = operation as Json
      for (const [type, media] of Object.entries(((op?.requestBody as Json | undefined)?.content ?? {}) as Record<string, Json>)) {
        found.set(`${path} ${method} request ${type}`, { slot: 'request', media })
      }
      for (const [status, response] of Object.entries((op?.responses ?? {}) as Record<string, Json>)) {
        for (const [type, media] of Object.entries((response.content ?? {}) as Record<string, Json>)) {
          found.set(`${path} ${method} ${status} ${type}`, { slot: 'response', media })
        }
      }
    }
  }
  return found
}

/**
 * Both documents, with every body schema inlined; the ones that did not change become `{}` (openapi-diff takes
 * seconds per schema it compares), and changed response schemas are opened. openapi-diff calls a response schema
 * that accepts more values breaking (a client may meet a value it does not expect): a closed schema that gains a
 * field would count, so the contract's new response fields could not be told from a removed field, a required field
 * made optional or a widened type. Open, a new field narrows the schema and is compatible; the others widen it.
 */
function comparable (before: Json, after: Json): [Json, Json] {
  const documents = [structuredClone(before), structuredClone(after)] as const
  const [old, updated] = documents.map((document) => {
    const schemas = ((document.components as Json | undefined)?.schemas ?? {}) as Json
    const bodies = bodySchemas(document)
    for (const body of bodies.values()) if (body.media.schema !== undefined) body.media.schema = inlined(body.media.schema, schemas)
    return bodies
  }) as [ReturnType<typeof bodySchemas>, ReturnType<typeof bodySchemas>]
  for (const [where, body] of old) {
    const counterpart = updated.get(where)
    if (counterpart && JSON.stringify(body.media.schema) === JSON.stringify(counterpart.media.schema)) {
      body.media.schema = counterpart.media.schema = {}
    } else if (body.slot === 'response') {
      body.media.schema = opened(body.media.schema)
      if (counterpart) counterpart.media.schema = opened(counterpart.media.schema)
    }
  }
  return [documents[0], documents[1]]
}

export interface BreakingChange { code: string, where: string }

/** The changes from `before` to `after` that break a client written against `before`, as openapi-diff classifies them over open response schemas. */
export async function breakingChanges (before: Json, after: Json): Promise<BreakingChange[]> {
  const spec = (document: Json, location: string) => ({ content: JSON.stringify(toOpenApi30(document)), location, format: 'openapi3' as const })
  const [source, destination] = comparable(before, after)
  const outcome = await openapiDiff.diffSpecs({ sourceSpec: spec(source, 'before'), destinationSpec: spec(destination, 'after') })
  if (!outcome.breakingDifferencesFound) return []
  return outcome.breakingDifferences.map((d) => ({
    code: d.code,
    where: [...d.sourceSpecEntityDetails, ...d.destinationSpecEntityDetails].map((e) => e.location).join(' → ')
  }))
}
