import { sql, type SQL } from 'drizzle-orm'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import { buildTestApp, createCompany, createEvent } from '../helper.js'

const CHECK_VIOLATION = '23514'
const UNIQUE_VIOLATION = '23505'
const FOREIGN_KEY_VIOLATION = '23503'
const INSUFFICIENT_PRIVILEGE = '42501'

/** The Postgres SQLSTATE behind a drizzle error (DrizzleQueryError wraps the driver's error in `cause`). */
function sqlState (err: unknown): string | undefined {
  const e = err as { code?: unknown, cause?: { code?: unknown } }
  return typeof e.cause?.code === 'string' ? e.cause.code : typeof e.code === 'string' ? e.code : undefined
}

/** Runs one raw statement that the database must refuse with this SQLSTATE. */
async function refused (t: Test, app: App, query: SQL, code: string, why: string) {
  let error: unknown
  try {
    await app.db.execute(query)
  } catch (err) {
    error = err
  }
  t.ok(error, `${why}: refused`)
  t.equal(sqlState(error), code, `${why}: SQLSTATE ${code}`)
}

/** An event row written around the API; `overrides` replace single columns. */
function insertEvent (companyId: string, overrides: Record<string, unknown> = {}): SQL {
  const row: Record<string, unknown> = {
    region: 'RU', service: 'Retail shipping', action: 'suspend', date: '2022-03-08', date_precision: 'day', external_id: null, ...overrides
  }
  return sql`INSERT INTO events (id, company_id, region, service, action, date, date_precision, external_id)
    VALUES (gen_random_uuid(), ${companyId}, ${row.region}, ${row.service}, ${row.action}, ${row.date}, ${row.date_precision}, ${row.external_id})`
}

function insertCompany (overrides: Record<string, unknown> = {}): SQL {
  const row: Record<string, unknown> = { name: 'Raw', country: null, lei: null, wikidata_id: null, ...overrides }
  return sql`INSERT INTO companies (id, name, country, lei, wikidata_id)
    VALUES (gen_random_uuid(), ${row.name}, ${row.country}, ${row.lei}, ${row.wikidata_id})`
}

t.test('CHECK constraints refuse values the API would refuse', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  // The same statement with valid values goes through, so each refusal below is about its one value.
  await app.db.execute(insertEvent(company.id))
  await app.db.execute(insertEvent(company.id, { date: '2022-03-01', date_precision: 'month' }))
  await app.db.execute(insertEvent(company.id, { region: 'UA-43' }))
  await app.db.execute(insertCompany({ country: 'US', wikidata_id: 'Q3884', lei: 'ZXTILKJKG63JELOEG630' }))

  await refused(t, app, insertEvent(company.id, { action: 'leave' }), CHECK_VIOLATION, "action 'leave'")
  await refused(t, app, insertEvent(company.id, { region: 'xx' }), CHECK_VIOLATION, "region 'xx'")
  await refused(t, app, insertEvent(company.id, { region: 'RUS' }), CHECK_VIOLATION, "region 'RUS'")
  await refused(t, app, insertEvent(company.id, { service: '' }), CHECK_VIOLATION, "service ''")
  await refused(t, app, insertEvent(company.id, { service: 'x'.repeat(201) }), CHECK_VIOLATION, 'service of 201 characters')
  await refused(t, app, insertEvent(company.id, { date_precision: 'week' }), CHECK_VIOLATION, "date_precision 'week'")
  await refused(t, app, insertEvent(company.id, { date_precision: 'month' }), CHECK_VIOLATION, "date_precision 'month' on 2022-03-08")
  await refused(t, app, insertEvent(company.id, { date: '2022-03-01', date_precision: 'year' }), CHECK_VIOLATION, "date_precision 'year' on 2022-03-01")
  await refused(t, app, insertEvent(company.id, { external_id: '' }), CHECK_VIOLATION, "external_id ''")

  await refused(t, app, insertCompany({ wikidata_id: 'Q0' }), CHECK_VIOLATION, "wikidata_id 'Q0'")
  await refused(t, app, insertCompany({ wikidata_id: 'q42' }), CHECK_VIOLATION, "wikidata_id 'q42'")
  await refused(t, app, insertCompany({ wikidata_id: 'P31' }), CHECK_VIOLATION, "wikidata_id 'P31'")
  await refused(t, app, insertCompany({ country: 'usa' }), CHECK_VIOLATION, "country 'usa'")
  await refused(t, app, insertCompany({ country: 'us' }), CHECK_VIOLATION, "country 'us'")
  await refused(t, app, insertCompany({ lei: 'not-an-lei' }), CHECK_VIOLATION, "lei 'not-an-lei'")
  await refused(t, app, insertCompany({ name: '' }), CHECK_VIOLATION, "name ''")

  const count = await app.db.execute(sql`SELECT count(*)::int AS n FROM events`) as unknown as { rows: Array<{ n: number }> }
  t.equal(count.rows[0]!.n, 3, 'only the valid events were stored')
})

t.test('uniqueness among live rows', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  await createEvent(app, { company_id: company.id, external_id: 'kse-1' })
  await refused(t, app, insertEvent(company.id, { external_id: 'kse-1' }), UNIQUE_VIOLATION, 'a second live event with external_id kse-1')
  // Deleted rows free their key.
  await app.db.execute(sql`UPDATE events SET deleted_at = now() WHERE external_id = 'kse-1'`)
  await app.db.execute(insertEvent(company.id, { external_id: 'kse-1' }))
  await refused(t, app, insertEvent(company.id, { external_id: 'kse-1' }), UNIQUE_VIOLATION, 'and again once it is reused')

  await createCompany(app, { name: 'Apple', lei: 'HWUPKR0MPOU8FGXBT394', wikidata_id: 'Q312' })
  await refused(t, app, insertCompany({ name: 'Apple again', lei: 'HWUPKR0MPOU8FGXBT394' }), UNIQUE_VIOLATION, 'a second live company with the same lei')
  await refused(t, app, insertCompany({ name: 'Apple again', wikidata_id: 'Q312' }), UNIQUE_VIOLATION, 'a second live company with the same wikidata_id')
  await app.db.execute(sql`UPDATE companies SET deleted_at = now() WHERE lei = 'HWUPKR0MPOU8FGXBT394'`)
  await app.db.execute(insertCompany({ name: 'Apple reborn', lei: 'HWUPKR0MPOU8FGXBT394', wikidata_id: 'Q312' }))
})

t.test('live events need a live company, and a company with live events cannot be deleted', async (t) => {
  const app = await buildTestApp(t)
  const deleted = await createCompany(app)
  await app.db.execute(sql`UPDATE companies SET deleted_at = now() WHERE id = ${deleted.id}`)
  await refused(t, app, insertEvent(deleted.id), FOREIGN_KEY_VIOLATION, 'an event for a deleted company')
  await refused(t, app, insertEvent('01936f0e-7d5c-7cc1-9b8a-4f2a1e3c5d6e'), FOREIGN_KEY_VIOLATION, 'an event for a company that never existed')

  const busy = await createCompany(app)
  const event = await createEvent(app, { company_id: busy.id })
  await refused(t, app, sql`UPDATE events SET company_id = ${deleted.id} WHERE id = ${event.id}`, FOREIGN_KEY_VIOLATION, 'moving an event to a deleted company')
  await refused(t, app, sql`UPDATE companies SET deleted_at = now() WHERE id = ${busy.id}`, FOREIGN_KEY_VIOLATION, 'soft-deleting a company with live events')
  await refused(t, app, sql`DELETE FROM companies WHERE id = ${busy.id}`, FOREIGN_KEY_VIOLATION, 'hard-deleting a company with events')
  await refused(t, app, sql`UPDATE events SET deleted_at = NULL, company_id = ${deleted.id} WHERE id = ${event.id}`, FOREIGN_KEY_VIOLATION, 'reviving an event onto a deleted company')

  // Once its events are deleted, the company can go.
  await app.db.execute(sql`UPDATE events SET deleted_at = now() WHERE id = ${event.id}`)
  await app.db.execute(sql`UPDATE companies SET deleted_at = now() WHERE id = ${busy.id}`)
  await refused(t, app, sql`UPDATE events SET deleted_at = NULL WHERE id = ${event.id}`, FOREIGN_KEY_VIOLATION, 'restoring an event of a deleted company')
})

t.test('revisions are append-only', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const before = await app.db.execute(sql`SELECT count(*)::int AS n FROM revisions WHERE resource_id = ${company.id}`) as unknown as { rows: Array<{ n: number }> }
  t.equal(before.rows[0]!.n, 1, 'creating the company wrote one revision')
  await refused(t, app, sql`UPDATE revisions SET data = '{}'::jsonb WHERE resource_id = ${company.id}`, INSUFFICIENT_PRIVILEGE, 'UPDATE of a revision')
  await refused(t, app, sql`DELETE FROM revisions WHERE resource_id = ${company.id}`, INSUFFICIENT_PRIVILEGE, 'DELETE of a revision')
  const after = await app.db.execute(sql`SELECT count(*)::int AS n, min(data->>'name') AS name FROM revisions WHERE resource_id = ${company.id}`) as unknown as { rows: Array<{ n: number, name: string }> }
  t.same(after.rows[0], { n: 1, name: company.name }, 'the revision is intact')
})

t.test('search_vector is the folded document in English, French, Russian and simple words, in that order', async (t) => {
  const app = await buildTestApp(t)
  const documents = ['The company suspended deliveries', "L'entreprise arrête les livraisons", 'Компания приостановила поставки', 'Ёлка Æther', '', null]
  for (const document of documents) {
    const result = await app.db.execute(sql`SELECT search_vector(${document}::text)::text AS actual,
      (to_tsvector('english', d) || to_tsvector('french', d) || to_tsvector('russian', d) || to_tsvector('simple', d))::text AS expected
      FROM (SELECT lower(unaccent(coalesce(${document}::text, ''))) AS d) folded`) as unknown as { rows: Array<{ actual: string, expected: string }> }
    t.equal(result.rows[0]!.actual, result.rows[0]!.expected, JSON.stringify(document))
  }
})
