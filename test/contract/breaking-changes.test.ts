import { readFile } from 'node:fs/promises'
import t from 'tap'
import { breakingChanges } from '../../src/contract/breaking-changes.js'
import { serverUrl } from '../database.js'

// No database here; it runs once, in the embedded suite.
const embeddedOnly = { skip: serverUrl ? 'needs no database: runs in the embedded (PGlite) suite' : false }

type Json = Record<string, any>
const committed: Json = JSON.parse(await readFile(new URL('../../openapi/openapi.json', import.meta.url), 'utf8'))
// openapi-diff takes seconds per path of our document; three paths with their components hold every case below,
// and `npm run openapi:breaking` in CI compares the whole document.
const current: Json = { ...committed, paths: Object.fromEntries(['/v1/regions', '/v1/events/{id}', '/v1/companies'].map((path) => [path, committed.paths[path]])) }
const edited = (edit: (doc: Json) => void) => {
  const copy = structuredClone(current)
  edit(copy)
  return copy
}

t.test('the committed document (three of its paths) is compatible with itself', embeddedOnly, async (t) => {
  t.same(await breakingChanges(current, current), [])
})

t.test('additions, new response fields included, do not break clients', embeddedOnly, async (t) => {
  const added = edited((doc) => {
    doc.paths['/v1/extra'] = structuredClone(doc.paths['/v1/regions'])
    doc.paths['/v1/extra'].get.operationId = 'listExtra'
    doc.components.schemas.Event.properties.new_optional = { type: 'string', maxLength: 10 }
  })
  t.same(await breakingChanges(current, added), [])
})

t.test('removals and new requirements break clients', embeddedOnly, async (t) => {
  const cases: Array<[string, (doc: Json) => void]> = [
    ['a removed path', (doc) => { delete doc.paths['/v1/regions'] }],
    ['a removed method', (doc) => { delete doc.paths['/v1/events/{id}'].delete }],
    ['a new required request field', (doc) => {
      doc.components.schemas.CompanyCreate.properties.ticker = { type: 'string', maxLength: 10 }
      doc.components.schemas.CompanyCreate.required.push('ticker')
    }],
    ['a removed response field', (doc) => {
      delete doc.components.schemas.Event.properties.summary
      doc.components.schemas.Event.required = doc.components.schemas.Event.required.filter((name: string) => name !== 'summary')
    }],
    ['a required response field made optional', (doc) => {
      doc.components.schemas.Event.required = doc.components.schemas.Event.required.filter((name: string) => name !== 'region')
    }],
    ['a response field of another type', (doc) => { doc.components.schemas.Event.properties.version = { type: 'string' } }]
  ]
  for (const [label, edit] of cases) {
    const breaking = await breakingChanges(current, edited(edit))
    t.ok(breaking.length > 0, `${label}: ${JSON.stringify(breaking)}`)
  }
})
