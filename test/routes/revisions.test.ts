import t from 'tap'
import type { App } from '../../src/app.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

async function keyNamed (app: App, name: string, scopes: ('read' | 'write' | 'admin')[] = ['write']) {
  return authHeader(app, scopes, name)
}

t.test('an event\'s history: who, when, why, what changed, and restore', async (t) => {
  const app = await buildTestApp(t)
  const editor = await keyNamed(app, 'newsroom-editor')
  const company = await createCompany(app)
  const created = await app.inject({
    method: 'POST',
    url: '/v1/events',
    headers: { ...editor, 'change-reason': 'First report' },
    payload: { company_id: company.id, region: 'RU', service: 'Retail', action: 'suspend', date: '2022-03-08', sources: [{ url: 'https://example.com/r' }] }
  })
  t.equal(created.statusCode, 201)
  const id = created.json().id
  const patched = await app.inject({
    method: 'PATCH', url: `/v1/events/${id}`, headers: { ...editor, 'change-reason': 'Company%20confirmed%20%E2%80%94%20exit' }, payload: { action: 'exit' }
  })
  t.equal(patched.statusCode, 200)
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/events/${id}`, headers: { ...editor, 'change-reason': 'Duplicate' } })).statusCode, 204)
  t.equal((await app.inject({ url: `/v1/events/${id}` })).statusCode, 404, 'deleted')

  const restored = await app.inject({ method: 'POST', url: `/v1/events/${id}/restore`, headers: { ...editor, 'change-reason': 'Not a duplicate after all' } })
  t.equal(restored.statusCode, 200, restored.body)
  t.match(restored.json(), { id, action: 'exit', version: 4 })
  t.equal(restored.headers.etag, '"4"')
  t.equal((await app.inject({ url: `/v1/events/${id}` })).statusCode, 200, 'live again')

  const history = await app.inject({ url: `/v1/events/${id}/revisions` })
  t.equal(history.statusCode, 200)
  const revisions = history.json().data
  t.same(revisions.map((r: { operation: string, version: number }) => [r.operation, r.version]),
    [['created', 1], ['updated', 2], ['deleted', 3], ['restored', 4]])
  t.same(revisions.map((r: { reason: string }) => r.reason), ['First report', 'Company confirmed — exit', 'Duplicate', 'Not a duplicate after all'])
  t.match(revisions[0].actor, { api_key_name: 'newsroom-editor', api_key_id: String })
  t.same(revisions[1].changes, [{ op: 'replace', path: '/action', value: 'exit' }], 'the update changed the action only')
  t.ok(revisions[0].changes.some((op: { op: string, path: string }) => op.op === 'add' && op.path === '/region'), 'a create adds every field')
  t.same(revisions[2].changes, [])
  t.equal(revisions[2].data, null)
  t.same(revisions[3].changes, [], 'a restore brings back the state before the delete')
  t.match(revisions[3].data, { action: 'exit', version: 4 })

  const paged = await app.inject({ url: `/v1/events/${id}/revisions?limit=2` })
  const next = await app.inject({ url: `/v1/events/${id}/revisions?limit=2&cursor=${paged.json().next_cursor}` })
  t.same(next.json().data.map((r: { version: number }) => r.version), [3, 4])
  t.same(next.json().data[0].changes, [], 'a page that starts mid-history diffs against the version before it')
  t.same((await app.inject({ url: `/v1/events/${id}/revisions?limit=1&cursor=${(await app.inject({ url: `/v1/events/${id}/revisions?limit=1` })).json().next_cursor}` })).json().data[0].changes,
    [{ op: 'replace', path: '/action', value: 'exit' }])

  const feed = (await app.inject({ url: '/v1/changes' })).json().data
  t.same(feed.filter((c: { resource_id: string }) => c.resource_id === id).map((c: { type: string }) => c.type),
    ['event.created', 'event.updated', 'event.deleted', 'event.restored'])
})

t.test('restore refuses what it cannot do', async (t) => {
  const app = await buildTestApp(t)
  const writer = await authHeader(app)
  const reader = await authHeader(app, ['read'])
  const company = await createCompany(app)
  const live = await createEvent(app, { company_id: company.id, external_id: 'ext-1' })

  const notDeleted = await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore`, headers: writer })
  t.equal(notDeleted.statusCode, 409)
  t.equal(notDeleted.json().code, 'APP_NOT_DELETED')
  t.equal((await app.inject({ method: 'POST', url: '/v1/events/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e/restore', headers: writer })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore`, headers: reader })).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore` })).statusCode, 401)

  // Its external_id was taken while it was deleted.
  await app.inject({ method: 'DELETE', url: `/v1/events/${live.id}`, headers: writer })
  const taker = await createEvent(app, { company_id: company.id, external_id: 'ext-1', service: 'Other' })
  const taken = await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore`, headers: writer })
  t.equal(taken.statusCode, 409)
  t.equal(taken.json().code, 'APP_RESTORE_CONFLICT')

  // Its company was deleted.
  await app.inject({ method: 'DELETE', url: `/v1/events/${taker.id}`, headers: writer })
  await app.inject({ method: 'DELETE', url: `/v1/companies/${company.id}`, headers: writer })
  const orphan = await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore`, headers: writer })
  t.equal(orphan.statusCode, 409)
  t.match(orphan.json().detail, /company/)
  t.equal((await app.inject({ method: 'POST', url: `/v1/companies/${company.id}/restore`, headers: writer })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: `/v1/events/${live.id}/restore`, headers: writer })).statusCode, 200, 'once the company is back')

  const facets = await app.inject({ url: '/v1/events/facets?fields=action' })
  t.same(facets.json().action, [{ value: 'exit', count: 1 }], 'the restored event counts again')
})

t.test('a company\'s history, and history that cannot be edited', async (t) => {
  const app = await buildTestApp(t)
  const writer = await keyNamed(app, 'desk')
  const created = await app.inject({ method: 'POST', url: '/v1/companies', headers: writer, payload: { name: 'Hist Co' } })
  const id = created.json().id
  await app.inject({ method: 'PATCH', url: `/v1/companies/${id}`, headers: writer, payload: { sector: 'Energy', aliases: ['HC'] } })
  const history = (await app.inject({ url: `/v1/companies/${id}/revisions` })).json().data
  t.same(history.map((r: { operation: string }) => r.operation), ['created', 'updated'])
  t.same(history[1].changes.map((op: { path: string }) => op.path).sort(), ['/aliases/-', '/sector'])
  t.equal((await app.inject({ url: '/v1/companies/01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e/revisions' })).statusCode, 404)
  for (const method of ['PUT', 'PATCH', 'DELETE', 'POST'] as const) {
    const res = await app.inject({ method, url: `/v1/companies/${id}/revisions`, headers: writer, payload: {} })
    t.ok([404, 405].includes(res.statusCode), `${method} on history is refused (${res.statusCode})`)
  }
})

t.test('a bad Change-Reason is a 400 naming the header, and writes nothing', async (t) => {
  const app = await buildTestApp(t)
  const writer = await authHeader(app)
  for (const reason of ['%E2%80', 'x'.repeat(501), '%00hidden', '   ']) {
    const res = await app.inject({ method: 'POST', url: '/v1/companies', headers: { ...writer, 'change-reason': reason }, payload: { name: 'Reasoned' } })
    t.equal(res.statusCode, 400, JSON.stringify(reason))
    t.match(res.json().errors, [{ in: 'headers', pointer: '/change-reason' }])
  }
  const list = await app.inject({ url: '/v1/companies?q=Reasoned' })
  t.same(list.json().data, [])
})

t.test('Change-Reason is read on writes only: elsewhere it is ignored like any unknown header', async (t) => {
  const app = await buildTestApp(t)
  const reader = await authHeader(app, ['read'])
  for (const url of ['/healthz', '/v1/companies', '/v1/events']) {
    const res = await app.inject({ url, headers: { ...reader, 'change-reason': '%E2%80' } })
    t.equal(res.statusCode, 200, url)
  }
})
