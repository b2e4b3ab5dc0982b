import type { LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { App } from '../../src/app.js'
import { isValidLei } from '../../src/domain/lei.js'
import type { Company } from '../../src/schemas/companies.js'
import { authHeader, buildTestApp, createCompany } from '../helper.js'

interface Candidate { company: { id: string, name: string }, score: number, matched_on: string }
interface MatchRow { name: string, candidates: Candidate[] }

/** A valid LEI: 18 characters and the ISO 7064 MOD 97-10 check digits, computed here. */
function lei (prefix: string): string {
  const digits = [...`${prefix}00`].map((ch) => parseInt(ch, 36)).join('')
  const remainder = BigInt(digits) % 97n
  return `${prefix}${String(98n - remainder).padStart(2, '0')}`
}

function assertOk (t: Test, res: LightMyRequestResponse, what: string) {
  t.equal(res.statusCode, 200, `${what}: status`, { body: res.body })
  return res.json()
}

function assertProblem (t: Test, res: LightMyRequestResponse, what: string, pointer: string, where = 'body') {
  t.equal(res.statusCode, 400, `${what}: status`, { body: res.body })
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.match(res.json(), { status: 400, errors: [{ in: where, pointer }] }, `${what}: names ${pointer}`)
}

const match = (app: App, names: unknown, headers: Record<string, string> = {}) =>
  app.inject({ method: 'POST', url: '/v1/companies/match', headers, payload: { names } })

async function matchOne (t: Test, app: App, name: string, country?: string): Promise<Candidate[]> {
  const body = assertOk(t, await match(app, [{ name, ...(country ? { country } : {}) }]), `match ${name}`)
  t.equal(body.data.length, 1)
  return body.data[0].candidates
}

/** The contract's promises about any candidate list: best first, at most 10, scores in [0.5, 1]. */
function assertWellFormed (t: Test, rows: MatchRow[]) {
  for (const row of rows) {
    t.ok(row.candidates.length <= 10, `${row.name}: at most 10 candidates`)
    t.ok(row.candidates.every((c) => c.score >= 0.5 && c.score <= 1), `${row.name}: scores within [0.5, 1]`)
    t.ok(row.candidates.every((c, i) => i === 0 || c.score <= row.candidates[i - 1]!.score), `${row.name}: best first`)
    t.equal(new Set(row.candidates.map((c) => c.company.id)).size, row.candidates.length, `${row.name}: each company once`)
  }
}

const ref = (c: Company) => ({ id: c.id, name: c.name })
const AMAZON_LEI = 'ZXTILKJKG63JELOEG630'

t.test('match: names, identifiers and countries', async (t) => {
  const app = await buildTestApp(t)
  const amazon = await createCompany(app, { name: 'Amazon', country: 'US', lei: AMAZON_LEI, wikidata_id: 'Q3884' })
  const zalando = await createCompany(app, { name: 'Zalando SE', country: 'DE' })
  const ozon = await createCompany(app, { name: 'Ozon Holdings PLC', aliases: ['Озон'], country: 'CY' })
  await createCompany(app, { name: 'Yandex', aliases: ['Яндекс'], country: 'NL' })
  const noCountry = await createCompany(app, { name: 'Nomad Trading' })

  const names = [
    { name: 'AMAZON.COM, INC.' },
    { name: 'Amazon' },
    { name: 'Zebra Logistics Kft' },
    { name: AMAZON_LEI },
    { name: 'Q3884' },
    { name: 'zalando' },
    { name: 'OZON HOLDINGS' },
    { name: 'озон' }
  ]
  const body = assertOk(t, await match(app, names), 'match')
  t.same(body.data.map((r: MatchRow) => r.name), names.map((n) => n.name), 'one result per name, in request order')
  assertWellFormed(t, body.data)
  const [inc, plain, zebra, byLei, byWikidata, lower, upper, cyrillic] = body.data as MatchRow[]
  t.same(inc!.candidates[0]?.company, ref(amazon), '"AMAZON.COM, INC." finds Amazon first')
  t.equal(inc!.candidates[0]?.matched_on, 'name')
  t.ok(inc!.candidates[0]!.score >= 0.5 && inc!.candidates[0]!.score < 1, 'a close, not exact, match')
  t.same(plain!.candidates[0], { company: ref(amazon), score: 1, matched_on: 'name' }, '"Amazon" is an exact match on the name')
  t.same(zebra!.candidates, [], 'an unrelated name finds nothing')
  t.same(byLei!.candidates, [{ company: ref(amazon), score: 1, matched_on: 'lei' }], 'an LEI matches exactly')
  t.same(byWikidata!.candidates, [{ company: ref(amazon), score: 1, matched_on: 'wikidata_id' }], 'a Wikidata id matches exactly')
  t.same(lower!.candidates[0], { company: ref(zalando), score: 1, matched_on: 'name' }, 'legal-form words and case are ignored')
  t.same(upper!.candidates[0], { company: ref(ozon), score: 1, matched_on: 'name' }, '"OZON HOLDINGS" is "Ozon Holdings PLC"')
  t.same(cyrillic!.candidates[0], { company: ref(ozon), score: 1, matched_on: 'alias' }, 'a Cyrillic alias, ignoring case')

  t.same((await matchOne(t, app, AMAZON_LEI.toLowerCase()))[0], { company: ref(amazon), score: 1, matched_on: 'lei' }, 'a lower-case LEI')
  const unknownLei = lei('529900ZZZZZZZZZZZZ')
  t.ok(isValidLei(unknownLei), 'the made-up LEI is valid')
  t.same(await matchOne(t, app, unknownLei), [], 'a valid LEI that no company has')
  t.same(await matchOne(t, app, 'Q99999999'), [], 'a Wikidata id that no company has')

  // A known headquarters country that differs multiplies the score by 0.8.
  t.same((await matchOne(t, app, 'Amazon', 'US'))[0], { company: ref(amazon), score: 1, matched_on: 'name' }, 'same country')
  t.same((await matchOne(t, app, 'Amazon', 'DE'))[0], { company: ref(amazon), score: 0.8, matched_on: 'name' }, 'another country: × 0.8')
  t.same((await matchOne(t, app, 'Amazon', 'de'))[0], { company: ref(amazon), score: 0.8, matched_on: 'name' }, 'a lower-case country')
  t.same((await matchOne(t, app, 'Nomad Trading', 'DE'))[0], { company: ref(noCountry), score: 1, matched_on: 'name' },
    'a company without a country is not penalised')
  t.same((await matchOne(t, app, AMAZON_LEI, 'DE'))[0], { company: ref(amazon), score: 1, matched_on: 'lei' },
    'an identifier matches exactly whatever country is given')
  const far = await matchOne(t, app, 'AMAZON.COM, INC.', 'DE')
  const near = await matchOne(t, app, 'AMAZON.COM, INC.')
  t.ok(far.every((c) => c.score >= 0.5), 'below-threshold scores are dropped after the country factor')
  if (far.length > 0) t.equal(far[0]!.score, Math.round(near[0]!.score * 0.8 * 1000) / 1000, 'the factor applies to the similarity')
})

t.test('match: "Амазон" as an alias, and "AMAZON.COM, INC." against the names Amazon and Амазон', async (t) => {
  const app = await buildTestApp(t)
  const amazon = await createCompany(app, { name: 'Amazon', aliases: ['Амазон'] })
  await createCompany(app, { name: 'Amazonas Energia' })
  await createCompany(app, { name: 'Zalando' })
  const body = assertOk(t, await match(app, [{ name: 'Амазон' }, { name: 'АМАЗОН' }, { name: 'AMAZON.COM, INC.' }, { name: 'Amazon' }, { name: 'Zebra Logistics Kft' }]), 'match')
  assertWellFormed(t, body.data)
  const [alias, upper, inc, plain, zebra] = body.data as MatchRow[]
  t.same(alias!.candidates[0], { company: ref(amazon), score: 1, matched_on: 'alias' }, '"Амазон" finds Amazon by its alias')
  t.same(upper!.candidates[0], { company: ref(amazon), score: 1, matched_on: 'alias' }, 'Cyrillic upper case too')
  t.same(inc!.candidates[0]?.company, ref(amazon), '"AMAZON.COM, INC." finds Amazon')
  t.equal(inc!.candidates[0]?.matched_on, 'name', 'on its name')
  t.same(plain!.candidates[0], { company: ref(amazon), score: 1, matched_on: 'name' }, '"Amazon" finds Amazon')
  t.notOk(plain!.candidates.slice(1).some((c) => c.score === 1), 'a longer name is not an exact match')
  t.same(zebra!.candidates, [], 'nothing for an unrelated name')
})

t.test('match: a deleted company is never a candidate', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)
  const goneLei = lei('5493001KJTIIGC8Y1R')
  t.ok(isValidLei(goneLei), 'the made-up LEI is valid')
  const gone = await createCompany(app, { name: 'Vanished Brewing', aliases: ['Исчезнувшая пивоварня'], lei: goneLei, wikidata_id: 'Q424242' })
  const before = assertOk(t, await match(app, [{ name: 'Vanished Brewing' }, { name: goneLei }, { name: 'Q424242' }, { name: 'исчезнувшая пивоварня' }]), 'before')
  t.same(before.data.map((r: MatchRow) => r.candidates.map((c) => [c.company.id, c.matched_on])),
    [[[gone.id, 'name']], [[gone.id, 'lei']], [[gone.id, 'wikidata_id']], [[gone.id, 'alias']]], 'found while live')
  const deleted = await app.inject({ method: 'DELETE', url: `/v1/companies/${gone.id}`, headers })
  t.equal(deleted.statusCode, 204, 'deleted', { body: deleted.body })
  const after = assertOk(t, await match(app, [{ name: 'Vanished Brewing' }, { name: goneLei }, { name: 'Q424242' }, { name: 'исчезнувшая пивоварня' }]), 'after')
  t.same(after.data.map((r: MatchRow) => r.candidates), [[], [], [], []], 'not by name, LEI, Wikidata id or alias once deleted')

  // A live successor may take the deleted one's identifiers: it is found, the deleted one is not.
  const successor = await createCompany(app, { name: 'Vanished Brewing', lei: goneLei, wikidata_id: 'Q424242' })
  const reused = assertOk(t, await match(app, [{ name: 'Vanished Brewing' }, { name: goneLei }, { name: 'Q424242' }]), 'successor')
  t.same(reused.data.map((r: MatchRow) => r.candidates.map((c) => c.company.id)), [[successor.id], [successor.id], [successor.id]], 'only the live one')
})

t.test('match: at most 10 candidates, best first; request limits', async (t) => {
  const app = await buildTestApp(t)
  const exact = await createCompany(app, { name: 'Nordic Foods' })
  for (let i = 1; i <= 12; i++) await createCompany(app, { name: `Nordic Foods ${i}` })
  await createCompany(app, { name: 'Southern Grain' })
  const body = assertOk(t, await match(app, [{ name: 'Nordic Foods' }, { name: 'Nordic Foods AB' }]), 'match')
  assertWellFormed(t, body.data)
  for (const row of body.data as MatchRow[]) {
    t.equal(row.candidates.length, 10, `${row.name}: 13 similar companies, 10 candidates`)
    t.same(row.candidates[0], { company: ref(exact), score: 1, matched_on: 'name' }, `${row.name}: the exact one first`)
    t.ok(row.candidates.every((c) => c.company.name.startsWith('Nordic Foods')), `${row.name}: only similar names`)
  }

  const hundred = Array.from({ length: 100 }, (_, i) => ({ name: i % 2 === 0 ? 'Nordic Foods' : `Unrelated ${i}` }))
  const big = assertOk(t, await match(app, hundred), '100 names')
  t.equal(big.data.length, 100, '100 names are allowed')
  t.same(big.data.map((r: MatchRow) => r.candidates.length > 0), hundred.map((_, i) => i % 2 === 0), 'each name answered in its place')

  assertProblem(t, await match(app, [...hundred, { name: 'One more' }]), '101 names', '/names')
  assertProblem(t, await match(app, []), 'no names', '/names')
  assertProblem(t, await match(app, [{ name: '' }]), 'an empty name', '/names/0/name')
  assertProblem(t, await match(app, [{ name: 'ok' }, { name: '   ' }]), 'a blank name', '/names/1/name')
  assertProblem(t, await match(app, [{ name: 'x'.repeat(201) }]), 'a long name', '/names/0/name')
  assertProblem(t, await match(app, [{ name: 'Amazon', country: 'XX' }]), 'an unknown country', '/names/0/country')
  assertProblem(t, await match(app, [{ name: 'Amazon', colour: 'red' }]), 'an unknown field', '/names/0')
  assertProblem(t, await match(app, ['Amazon']), 'a bare string', '/names/0')
  const noNames = await app.inject({ method: 'POST', url: '/v1/companies/match', payload: {} })
  t.equal(noNames.statusCode, 400, 'a body without names')
})

t.test('GET /v1/companies?q= is fuzzy and ranked', async (t) => {
  const app = await buildTestApp(t)
  const amazon = await createCompany(app, { name: 'Amazon', aliases: ['Амазон'], country: 'US' })
  await createCompany(app, { name: 'Amazonas Energia', country: 'BR' })
  await createCompany(app, { name: 'Amazon Web Services', country: 'US' })
  const sg = await createCompany(app, { name: 'Société Générale', aliases: ['SocGen'] })
  await createCompany(app, { name: 'Zalando' })
  await createCompany(app, { name: 'Nordic Foods' })

  const list = async (query: Record<string, string>) => assertOk(t, await app.inject({ url: '/v1/companies', query }), JSON.stringify(query))
  const names = async (query: Record<string, string>) => (await list(query)).data.map((c: Company) => c.name)

  t.ok((await names({ q: 'Amazn' })).includes('Amazon'), 'a misspelling finds Amazon')
  t.notOk((await names({ q: 'Amazn' })).includes('Zalando'), 'and not an unrelated name')
  for (const q of ['амазон', 'АМАЗОН', 'Амазон', 'амазн']) {
    t.equal((await names({ q }))[0], 'Amazon', `Cyrillic, any case: ${q}`)
  }
  t.equal((await names({ q: 'societe generale' }))[0], sg.name, 'accents ignored')
  t.equal((await names({ q: 'SOCIETE GENERAL' }))[0], sg.name, 'accents and case ignored, misspelt')
  t.same(await names({ q: 'Zebra Logistics Kft' }), [], 'an unrelated name finds nothing')
  t.same(await names({ q: 'Amazon', country: 'BR' }), ['Amazonas Energia'], 'q and country together')

  const ranked = await list({ q: 'Amazon' })
  t.same(ranked.data[0].id, amazon.id, 'the exact name ranks first')
  t.same((await list({ q: 'Amazon', sort: 'relevance' })).data, ranked.data, 'relevance is the default sort with q')
  t.same(new Set(ranked.data.map((c: Company) => c.name)), new Set(['Amazon', 'Amazonas Energia', 'Amazon Web Services']), 'every company containing it')
  const byName = await names({ q: 'Amazon', sort: 'name' })
  t.same(byName, ['Amazon', 'Amazon Web Services', 'Amazonas Energia'], 'another sort with q is honoured')

  const noQ = await app.inject({ url: '/v1/companies', query: { sort: 'relevance' } })
  t.equal(noQ.statusCode, 400, 'relevance without q: status', { body: noQ.body })
  t.match(noQ.json(), { status: 400, errors: [{ in: 'querystring', pointer: '/sort' }] }, 'relevance without q names sort')

  // Pagination over relevance: a limit=1 walk gives the one-page order, without repeats.
  for (const q of ['Amazon', 'Amazo', 'a']) {
    const whole = (await list({ q, limit: '50' })).data.map((c: Company) => c.id)
    const walked: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const page: { data: Company[], next_cursor: string | null } = await list({ q, limit: '1', ...(cursor ? { cursor } : {}) })
      walked.push(...page.data.map((c) => c.id))
      cursor = page.next_cursor
      pages++
    } while (cursor !== null && pages < 20)
    t.ok(whole.length >= 2, `q=${q}: several results to walk`)
    t.same(walked, whole, `q=${q}: limit=1 walk = one page, no repeats`)
  }
  const first = await list({ q: 'Amazon', limit: '1' })
  const other = await app.inject({ url: '/v1/companies', query: { q: 'Amazo', limit: '1', cursor: first.next_cursor } })
  t.equal(other.statusCode, 400, 'a relevance cursor with another q', { body: other.body })
})

t.test('match reads only: a read key is enough when reads need a key', async (t) => {
  const app = await buildTestApp(t, { READ_REQUIRES_KEY: 'true' })
  const amazon = await createCompany(app, { name: 'Amazon' })
  const anonymous = await match(app, [{ name: 'Amazon' }])
  t.equal(anonymous.statusCode, 401, 'no key: 401', { body: anonymous.body })
  const withRead = assertOk(t, await match(app, [{ name: 'Amazon' }], await authHeader(app, ['read'])), 'read key')
  t.same(withRead.data[0].candidates[0], { company: ref(amazon), score: 1, matched_on: 'name' }, 'a read key matches')
})
