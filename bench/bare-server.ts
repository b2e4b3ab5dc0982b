import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import pg from 'pg'

/**
 * The reference the benchmark measures us against: Fastify and pg running the SQL our server runs for the same
 * requests (captured from it), with no validation, authentication, ETags, request ids, problem documents or
 * response schemas. Its pool has our default size. Started by `bench/run.ts` with DATABASE_URL and PORT.
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
const app = Fastify({ logger: false })
app.addContentTypeParser('application/merge-patch+json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))

const EVENT = `select e.id, e.company_id, c.name, e.region, e.service, e.action, e.date, e.date_precision, e.effective_date, e.summary,
  e.external_id, e.created_at, e.updated_at, e.version from events e inner join companies c on c.id = e.company_id`
const SOURCES = `select es.event_id, s.url, s.publisher, s.title, s.published_date, s.language, s.kind, s.archived_url, s.license, es.quote
  from event_sources es inner join sources s on s.id = es.source_id where es.event_id = any($1) order by es.event_id, es.position`

type Queryable = pg.Pool | pg.PoolClient
type Row = Record<string, unknown>

/** Events with their sources, as our server reads them: the rows, then their sources in one query. */
async function withSources (db: Queryable, rows: Row[]): Promise<Row[]> {
  if (rows.length === 0) return rows
  const sources = await db.query(SOURCES, [rows.map((r) => r.id)])
  const byEvent = new Map<unknown, Row[]>()
  for (const s of sources.rows) {
    const list = byEvent.get(s.event_id) ?? []
    list.push(s)
    byEvent.set(s.event_id, list)
  }
  return rows.map((r) => ({ ...r, sources: byEvent.get(r.id) ?? [] }))
}

const one = async (db: Queryable, id: string) => (await withSources(db, (await db.query(`${EVENT} where e.id = $1 and e.deleted_at is null`, [id])).rows))[0]

app.get<{ Params: { id: string } }>('/v1/events/:id', async (req, reply) => {
  const event = await one(pool, req.params.id)
  return event ?? reply.code(404).send({ status: 404 })
})

app.get<{ Querystring: Record<string, string | undefined> }>('/v1/events', async (req) => {
  const { region, date_from: from, date_to: to, q, after_date: afterDate, after_id: afterId } = req.query
  const where = ['e.deleted_at is null']
  const values: unknown[] = []
  const param = (value: unknown) => `$${values.push(value)}`
  if (region !== undefined) where.push(`e.region_country in (${param(region)})`)
  if (from !== undefined) where.push(`e.date >= ${param(from)}`)
  if (to !== undefined) where.push(`e.date <= ${param(to)}`)
  if (q !== undefined) where.push(`e.search @@ search_query(${param(q)})`)
  // Our cursor is opaque; the reference takes the key it carries as two parameters.
  if (afterDate !== undefined) where.push(`(e.date, e.id) < (${param(afterDate)}::date, ${param(afterId)}::uuid)`)
  const rows = (await pool.query(`${EVENT} where ${where.join(' and ')} order by e.date desc, e.id desc limit ${param(51)}`, values)).rows
  const page = await withSources(pool, rows.slice(0, 50))
  return { data: page, next_cursor: rows.length > 50 ? `${String(page.at(-1)!.date)}/${String(page.at(-1)!.id)}` : null }
})

app.post<{ Body: Row & { sources: Array<{ url: string }> } }>('/v1/events', async (req, reply) => {
  const b = req.body
  const client = await pool.connect()
  try {
    await client.query('begin')
    const id = randomUUID()
    const urls = b.sources.map((s) => s.url)
    for (const url of urls) await client.query('insert into sources (id, url) values ($1, $2) on conflict (url) do nothing', [randomUUID(), url])
    const sources = (await client.query('select id, url, title from sources where url = any($1) order by url for update', [urls])).rows
    // The search document on insert, as ours makes it: the sources' titles (no quotes here) are part of it.
    const doc = sources.map((s) => s.title).filter((title) => title !== null).join(' ') || null
    await client.query(`insert into events (id, company_id, region, service, action, date, date_precision, search) values ($1, $2, $3, $4, $5, $6, $7,
      event_search_document((select c.name || c.aliases from companies c where c.id = $2), $4, null, $8))`,
    [id, b.company_id, b.region, b.service, b.action, b.date, 'day', doc])
    for (const [position, source] of sources.entries()) {
      await client.query('insert into event_sources (event_id, source_id, position) values ($1, $2, $3)', [id, source.id, position])
    }
    const event = await one(client, id)
    await client.query("insert into revisions (id, resource_type, resource_id, operation, version, data) values ($1, 'event', $2, 'created', 1, $3)",
      [randomUUID(), id, JSON.stringify(event)])
    await client.query('commit')
    return reply.code(201).send(event)
  } catch (err) {
    await client.query('rollback')
    throw err
  } finally {
    client.release()
  }
})

app.patch<{ Params: { id: string }, Body: { summary: string } }>('/v1/events/:id', async (req, reply) => {
  const client = await pool.connect()
  try {
    await client.query('begin')
    const locked = (await client.query('select * from events where id = $1 and deleted_at is null for update', [req.params.id])).rows[0]
    if (locked === undefined) {
      await client.query('rollback')
      return reply.code(404).send({ status: 404 })
    }
    const current = await one(client, req.params.id) as Row & { sources: Array<{ title: string | null, quote: string | null }> }
    // The search document in the update, as ours makes it, from the sources just read.
    const doc = current.sources.map((s) => [s.title, s.quote].filter((part) => part !== null).join(' ')).filter((d) => d !== '').join(' ') || null
    await client.query(`update events e set summary = $1, updated_at = now(), version = $2,
      search = event_search_document((select c.name || c.aliases from companies c where c.id = e.company_id), e.service, $1, $4)
      where id = $3`, [req.body.summary, locked.version + 1, req.params.id, doc])
    const event = await one(client, req.params.id)
    await client.query("insert into revisions (id, resource_type, resource_id, operation, version, data) values ($1, 'event', $2, 'updated', $3, $4)",
      [randomUUID(), req.params.id, locked.version + 1, JSON.stringify(event)])
    await client.query('commit')
    return event
  } catch (err) {
    await client.query('rollback')
    throw err
  } finally {
    client.release()
  }
})

app.get('/readyz', async () => ({ ok: true }))

await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT) })
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    app.close().then(() => pool.end(), () => process.exit(1))
  })
}
