import { readFile } from 'node:fs/promises'
import SwaggerParser from '@apidevtools/swagger-parser'
import t from 'tap'
import type { App } from '../src/app.js'
import { buildTestApp } from './helper.js'

const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const

interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  responses?: Record<string, { description?: string }>
}
type Document = { openapi: string, paths: Record<string, Partial<Record<typeof METHODS[number], Operation>>> }

/**
 * Every method and path the app serves, read from Fastify's route tree (`printRoutes`), with
 * `:param` turned into OpenAPI's `{param}`. The tree prints one segment per line, indented four
 * characters a level, with its methods in parentheses.
 */
function servedRoutes (app: App): Array<{ method: string, path: string }> {
  const routes: Array<{ method: string, path: string }> = []
  const stack: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line)
    if (!match) continue
    const depth = match[1]!.length / 4
    stack.length = depth
    stack.push(match[2]!)
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) {
      routes.push({ method: method.toLowerCase(), path: stack.join('').replace(/:([A-Za-z_]+)/g, '{$1}') })
    }
  }
  return routes
}

t.test('the served document is valid OpenAPI 3.1 and the committed file is up to date', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  // As JSON, the way it is served and committed (the live object also carries TypeBox's symbol keys).
  const doc = JSON.parse(JSON.stringify(app.swagger())) as Document
  t.equal(doc.openapi, '3.1.0')
  await t.resolves(SwaggerParser.validate(structuredClone(doc) as never), 'swagger-parser validates it')
  const committed = JSON.parse(await readFile(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
  t.same(doc, committed, 'openapi/openapi.json matches the app: run `npm run openapi`')
  const served = await app.inject({ url: '/openapi.json' })
  t.same(served.json(), committed, 'GET /openapi.json serves the same document')
})

t.test('every operation is documented', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const doc = app.swagger() as unknown as Document
  const operationIds = new Set<string>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method]
      if (!op) continue
      const where = `${method.toUpperCase()} ${path}`
      t.match(op.operationId, /^[a-z][A-Za-z]+$/, `${where}: operationId`)
      t.notOk(operationIds.has(op.operationId!), `${where}: operationId is unique`)
      operationIds.add(op.operationId!)
      t.ok(op.summary?.trim(), `${where}: summary`)
      t.ok(op.description?.trim(), `${where}: description`)
      t.ok(op.tags && op.tags.length > 0, `${where}: tags`)
      t.ok(op.responses && Object.keys(op.responses).length > 0, `${where}: responses`)
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        t.ok(response.description?.trim() && response.description !== 'Default Response', `${where} ${status}: description`)
      }
    }
  }
  t.ok(operationIds.size >= 14, `${operationIds.size} operations`)
})

t.test('every route the app serves, except /docs, is in the document', async (t) => {
  const app = await buildTestApp(t)
  await app.ready()
  const doc = app.swagger() as unknown as Document
  const routes = servedRoutes(app).filter((r) => r.method !== 'head' && r.method !== 'options' && !r.path.startsWith('/docs'))
  t.ok(routes.length >= 14, `${routes.length} routes found in the route tree`)
  for (const path of ['/v1/events', '/v1/events/{id}', '/v1/companies', '/v1/companies/{id}', '/v1/regions', '/healthz', '/readyz', '/openapi.json', '/problems/{kind}']) {
    t.ok(routes.some((r) => r.path === path), `the route tree shows ${path}`)
  }
  for (const { method, path } of routes) {
    t.ok(doc.paths[path]?.[method as typeof METHODS[number]], `${method.toUpperCase()} ${path} is documented`)
  }
  const documented = Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((method) => ({ method, path })))
  for (const { method, path } of documented) {
    t.ok(routes.some((r) => r.method === method && r.path === path), `${method.toUpperCase()} ${path} is served`)
  }
})
