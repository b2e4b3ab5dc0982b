import { randomUUID } from 'node:crypto'
import t, { type Test } from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import type { App } from '../../src/app.js'
import type { Event } from '../../src/schemas/events.js'
import { authHeader, buildTestApp, createCompany, createEvent } from '../helper.js'

type Query = Record<string, string>
type SortName = '-date' | 'date' | '-created_at' | 'created_at' | '-updated_at' | 'updated_at'

const SORTS: SortName[] = ['-date', 'date', '-created_at', 'created_at', '-updated_at', 'updated_at']

/** The contract's order, computed here: by the sort key, then by id, both in the sort's direction. */
function ordered (rows: Event[], sort: SortName = '-date'): Event[] {
  const field = sort.replace('-', '') as 'date' | 'created_at' | 'updated_at'
  const asc = [...rows].sort((a, b) => {
    if (a[field] !== b[field]) return a[field] < b[field] ? -1 : 1
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  })
  return sort.startsWith('-') ? asc.reverse() : asc
}

const labels = (rows: Event[]) => rows.map((e) => e.external_id)

function list (app: App, query: Query | string) {
  return typeof query === 'string'
    ? app.inject({ url: `/v1/events?${query}` })
    : app.inject({ url: '/v1/events', query })
}

/** Asserts a 400 validation problem that names this query parameter. */
function isQueryProblem (t: Test, res: LightMyRequestResponse, pointer: string, what: string) {
  t.equal(res.statusCode, 400, `${what}: status`)
  t.match(res.headers['content-type'], /^application\/problem\+json/, `${what}: problem+json`)
  t.match(res.json(), {
    type: '/problems/validation-error',
    status: 400,
    errors: [{ in: 'querystring', pointer }]
  }, `${what}: names ${pointer}`)
}

t.test('filters, full-text search and sorts on a small dataset', async (t) => {
  const app = await buildTestApp(t)
  const headers = await authHeader(app)

  const sg = await createCompany(app, { name: 'Société Générale', aliases: ['SocGen'] })
  const amazon = await createCompany(app, { name: 'Amazon', aliases: ['Амазон', 'AMZN'] })
  const yandex = await createCompany(app, { name: 'Yandex', aliases: ['Яндекс'] })
  const ozon = await createCompany(app, { name: 'Ozon' })

  // Created one after another, so that created_at follows this order.
  const made: Event[] = []
  const add = async (label: string, fields: Parameters<typeof createEvent>[1]) => {
    made.push(await createEvent(app, { external_id: label, ...fields }))
  }
  await add('sg-ru', {
    company_id: sg.id,
    region: 'RU',
    service: 'Retail banking',
    action: 'exit',
    date: '2022-04-11',
    summary: 'The bank sold Rosbank to Interros.'
  })
  await add('sg-ua', { company_id: sg.id, region: 'UA', service: 'Investment_banking', action: 'scale_back', date: '2022-02-24' })
  await add('amz-ru', {
    company_id: amazon.id,
    region: 'RU',
    service: 'Retail shipping',
    action: 'suspend',
    date: '2022-03-08',
    summary: 'Amazon suspended shipment of retail products to customers in Russia.'
  })
  await add('amz-by', {
    company_id: amazon.id,
    region: 'BY',
    service: 'Prime Video',
    action: 'suspend',
    date: '2022-03-08',
    sources: [{ url: 'https://francais.rt.com/amazon', publisher: 'RT', language: 'fr', title: 'Amazon arrête les livraisons et le streaming en Russie et en Biélorussie' }]
  })
  await add('amz-ua', {
    company_id: amazon.id,
    region: 'UA',
    service: 'AWS new accounts',
    action: 'pause_new_business',
    date: '2022-03-10',
    sources: [{ url: 'https://www.aboutamazon.com/news/a', quote: 'We have paused onboarding of new customers.' }]
  })
  await add('yx-crimea', {
    company_id: yandex.id,
    region: 'UA-43',
    service: 'Taxi 100% off',
    action: 'continue',
    date: '2022-03-09',
    summary: 'Компания приостановила поставки'
  })
  await add('ozon-ru', {
    company_id: ozon.id,
    region: 'RU',
    service: 'Route 100 marketplace',
    action: 'continue',
    date: '2022-03-09',
    summary: 'Ozon keeps trading.'
  })
  await add('ozon-kyiv', { company_id: ozon.id, region: 'UA-30', service: 'Pickup points', action: 'exit', date: '2022-03-01' })

  // A deleted event that every filter below would otherwise match.
  const deleted = await createEvent(app, {
    external_id: 'deleted',
    company_id: amazon.id,
    region: 'RU',
    service: 'Investment_banking 100% Prime Retail marketplace',
    action: 'exit',
    date: '2022-03-08',
    summary: 'Amazon suspended livraisons, arrête les поставки; Rosbank onboarding marketplace streaming Yandex SocGen Société',
    sources: [{ url: 'https://deleted.example.com/1', title: 'Amazon arrête les livraisons', quote: 'onboarding приостановила' }]
  })
  const removed = await app.inject({ method: 'DELETE', url: `/v1/events/${deleted.id}`, headers })
  t.equal(removed.statusCode, 204)

  // Two later changes, so that updated_at orders differently from created_at.
  for (const label of ['ozon-ru', 'sg-ru']) {
    const i = made.findIndex((e) => e.external_id === label)
    const patched = await app.inject({ method: 'PATCH', url: `/v1/events/${made[i]!.id}`, headers, payload: { summary: `${made[i]!.summary} (updated)` } })
    t.equal(patched.statusCode, 200, `patched ${label}`)
    made[i] = patched.json()
  }

  const live = made
  const byLabel = (...names: string[]) => live.filter((e) => names.includes(e.external_id!))

  /** GETs the query and checks the page is exactly these events, in the default order, with no next page. */
  async function expectEvents (t: Test, query: Query | string, expected: Event[], what = JSON.stringify(query)) {
    const res = await list(app, query)
    t.equal(res.statusCode, 200, `${what}: status ${res.body.slice(0, 300)}`)
    if (res.statusCode !== 200) return
    const body = res.json()
    t.same(Object.keys(body).sort(), ['data', 'next_cursor'], `${what}: envelope`)
    t.same(labels(body.data), labels(ordered(expected)), what)
    t.equal(body.next_cursor, null, `${what}: last page`)
  }

  t.test('no filter: every live event, -date order, never the deleted one', async (t) => {
    await expectEvents(t, {}, live)
    const res = await list(app, {})
    const first = res.json().data.find((e: Event) => e.external_id === 'amz-by')
    t.match(first, {
      company_id: amazon.id,
      company: { id: amazon.id, name: 'Amazon' },
      region: 'BY',
      service: 'Prime Video',
      action: 'suspend',
      date: '2022-03-08',
      sources: [{ url: 'https://francais.rt.com/amazon', publisher: 'RT', language: 'fr' }]
    })
  })

  t.test('company_id', async (t) => {
    await expectEvents(t, { company_id: amazon.id }, live.filter((e) => e.company_id === amazon.id))
    await expectEvents(t, { company_id: `${amazon.id},${ozon.id}` }, live.filter((e) => e.company_id === amazon.id || e.company_id === ozon.id))
    await expectEvents(t, { company_id: `${sg.id},${sg.id}` }, live.filter((e) => e.company_id === sg.id), 'a repeated id')
    await expectEvents(t, { company_id: yandex.id.toUpperCase() }, live.filter((e) => e.company_id === yandex.id), 'upper-case uuid')
    await expectEvents(t, { company_id: randomUUID() }, [], 'unknown company')
  })

  t.test('company: name and aliases, ignoring case and accents', async (t) => {
    const sgEvents = live.filter((e) => e.company_id === sg.id)
    const amazonEvents = live.filter((e) => e.company_id === amazon.id)
    await expectEvents(t, { company: 'societe' }, sgEvents)
    await expectEvents(t, { company: 'SOCIÉTÉ' }, sgEvents)
    await expectEvents(t, { company: 'Société Générale' }, sgEvents)
    await expectEvents(t, { company: 'generale' }, sgEvents)
    await expectEvents(t, { company: 'socgen' }, sgEvents, 'alias')
    await expectEvents(t, { company: 'амазон' }, amazonEvents, 'Cyrillic alias, lower case')
    await expectEvents(t, { company: 'АМАЗОН' }, amazonEvents, 'Cyrillic alias, upper case')
    await expectEvents(t, { company: 'amzn' }, amazonEvents, 'ticker alias')
    await expectEvents(t, { company: 'яндекс' }, live.filter((e) => e.company_id === yandex.id))
    await expectEvents(t, { company: 'nosuchcompany' }, [])
    await expectEvents(t, { company: '%' }, [], '% is literal')
    await expectEvents(t, { company: '_' }, [], '_ is literal')
  })

  t.test('region: several codes, countries match their subdivisions', async (t) => {
    const inCountry = (c: string) => (e: Event) => e.region === c || e.region.startsWith(`${c}-`)
    await expectEvents(t, { region: 'UA' }, live.filter(inCountry('UA')))
    t.same(labels(ordered(live.filter(inCountry('UA')))).sort(), ['amz-ua', 'ozon-kyiv', 'sg-ua', 'yx-crimea'], 'the dataset has UA and its subdivisions')
    await expectEvents(t, { region: 'UA-43' }, byLabel('yx-crimea'))
    await expectEvents(t, { region: 'ua-43' }, byLabel('yx-crimea'), 'lower case')
    await expectEvents(t, { region: 'RU,BY' }, live.filter((e) => e.region === 'RU' || e.region === 'BY'))
    await expectEvents(t, { region: 'ru,by' }, live.filter((e) => e.region === 'RU' || e.region === 'BY'), 'lower case list')
    await expectEvents(t, { region: 'RU,UA-43,UA-30' }, live.filter((e) => ['RU', 'UA-43', 'UA-30'].includes(e.region)))
    await expectEvents(t, { region: 'UA-43,UA' }, live.filter(inCountry('UA')), 'a subdivision and its country')
    await expectEvents(t, { region: 'DE' }, [], 'a real code with no events')
    await expectEvents(t, { region: 'FR-75C' }, [], 'a real subdivision with no events')
  })

  t.test('action: one or several', async (t) => {
    await expectEvents(t, { action: 'continue' }, live.filter((e) => e.action === 'continue'))
    await expectEvents(t, { action: 'exit,suspend' }, live.filter((e) => e.action === 'exit' || e.action === 'suspend'))
    await expectEvents(t, { action: 'pause_new_business,scale_back,resume' }, live.filter((e) => ['pause_new_business', 'scale_back'].includes(e.action)))
    await expectEvents(t, { action: 'resume' }, [])
  })

  t.test('service: case-insensitive substring, wildcards literal', async (t) => {
    await expectEvents(t, { service: 'prime' }, byLabel('amz-by'))
    await expectEvents(t, { service: 'RETAIL' }, byLabel('sg-ru', 'amz-ru'))
    await expectEvents(t, { service: 'banking' }, byLabel('sg-ru', 'sg-ua'))
    await expectEvents(t, { service: '100%' }, byLabel('yx-crimea'), '% is not a wildcard')
    await expectEvents(t, { service: '%' }, byLabel('yx-crimea'), 'a lone %')
    await expectEvents(t, { service: '_bank' }, byLabel('sg-ua'), '_ is not a wildcard')
    await expectEvents(t, { service: '_' }, byLabel('sg-ua'), 'a lone _')
    await expectEvents(t, { service: 'R_tail' }, [], '_ matches only itself')
    await expectEvents(t, { service: '\\' }, [], 'a backslash matches only itself')
  })

  t.test('date_from and date_to are inclusive', async (t) => {
    await expectEvents(t, { date_from: '2022-03-08' }, live.filter((e) => e.date >= '2022-03-08'))
    await expectEvents(t, { date_to: '2022-03-08' }, live.filter((e) => e.date <= '2022-03-08'))
    await expectEvents(t, { date_from: '2022-03-08', date_to: '2022-03-08' }, byLabel('amz-ru', 'amz-by'))
    await expectEvents(t, { date_from: '2022-03-01', date_to: '2022-03-09' }, live.filter((e) => e.date >= '2022-03-01' && e.date <= '2022-03-09'))
    await expectEvents(t, { date_from: '2022-04-12' }, [])
  })

  t.test('q: full-text over names, aliases, service, summary, source titles and quotes', async (t) => {
    const sgEvents = live.filter((e) => e.company_id === sg.id)
    // English, stemmed
    await expectEvents(t, { q: 'suspending' }, byLabel('amz-ru'))
    await expectEvents(t, { q: 'suspended' }, byLabel('amz-ru'))
    await expectEvents(t, { q: 'shipments' }, byLabel('amz-ru'))
    // French, stemmed and accent-insensitive (a source title)
    await expectEvents(t, { q: 'livraisons' }, byLabel('amz-by'))
    await expectEvents(t, { q: 'livraison' }, byLabel('amz-by'))
    await expectEvents(t, { q: 'arrete' }, byLabel('amz-by'))
    await expectEvents(t, { q: 'ARRÊTE' }, byLabel('amz-by'))
    await expectEvents(t, { q: 'Biélorussie' }, byLabel('amz-by'))
    // Russian, stemmed (a summary)
    await expectEvents(t, { q: 'поставка' }, byLabel('yx-crimea'))
    await expectEvents(t, { q: 'приостановила' }, byLabel('yx-crimea'))
    await expectEvents(t, { q: 'ПОСТАВКИ' }, byLabel('yx-crimea'))
    // company names and aliases
    await expectEvents(t, { q: 'yandex' }, byLabel('yx-crimea'))
    await expectEvents(t, { q: 'Яндекс' }, byLabel('yx-crimea'))
    await expectEvents(t, { q: 'societe' }, sgEvents, 'accented name, no accents')
    await expectEvents(t, { q: 'SocGen' }, sgEvents)
    // service, summary, source quote
    await expectEvents(t, { q: 'marketplace' }, byLabel('ozon-ru'))
    await expectEvents(t, { q: 'Rosbank' }, byLabel('sg-ru'))
    await expectEvents(t, { q: 'onboarding' }, byLabel('amz-ua'))
    await expectEvents(t, { q: 'nothingmatchesthis' }, [])
  })

  t.test('filters combine with AND', async (t) => {
    await expectEvents(t, { company: 'amazon', region: 'RU' }, byLabel('amz-ru'))
    await expectEvents(t, { company: 'amazon', action: 'suspend', date_from: '2022-03-08', date_to: '2022-03-08' }, byLabel('amz-ru', 'amz-by'))
    await expectEvents(t, { region: 'UA', action: 'continue' }, byLabel('yx-crimea'))
    await expectEvents(t, { q: 'amazon', region: 'BY' }, byLabel('amz-by'))
    await expectEvents(t, { service: 'retail', company_id: amazon.id }, byLabel('amz-ru'))
    await expectEvents(t, { company_id: amazon.id, company: 'ozon' }, [])
    await expectEvents(t, { region: 'RU', action: 'continue', service: 'route', q: 'ozon', date_from: '2022-03-09', date_to: '2022-03-09' }, byLabel('ozon-ru'))
    await expectEvents(t, { region: 'UA', q: 'marketplace' }, [])
  })

  t.test('every sort, ties broken by id in the same direction', async (t) => {
    const dates = live.map((e) => e.date)
    t.ok(dates.length > new Set(dates).size, 'the dataset has equal dates')
    for (const sort of SORTS) {
      const res = await list(app, { sort })
      t.equal(res.statusCode, 200, sort)
      t.same(labels(res.json().data), labels(ordered(live, sort)), sort)
    }
    t.not(labels(ordered(live, 'updated_at')).join(), labels(ordered(live, 'created_at')).join(), 'updated_at orders differently')
    const byDefault = await list(app, {})
    const byDate = await list(app, { sort: '-date' })
    t.same(labels(byDefault.json().data), labels(byDate.json().data), '-date is the default')
  })

  t.test('limit cuts a page and gives a cursor', async (t) => {
    const res = await list(app, { limit: '1' })
    t.equal(res.statusCode, 200)
    t.same(labels(res.json().data), labels(ordered(live).slice(0, 1)))
    t.type(res.json().next_cursor, 'string')
    const max = await list(app, { limit: '200' })
    t.equal(max.statusCode, 200)
    t.equal(max.json().data.length, live.length)
    t.equal(max.json().next_cursor, null)
  })
})

t.test('the default limit is 50', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  for (let batch = 0; batch < 3; batch++) {
    await Promise.all(Array.from({ length: 17 }, () => createEvent(app, { company_id: company.id })))
  }
  const all = await list(app, { limit: '51' })
  t.equal(all.statusCode, 200)
  t.equal(all.json().data.length, 51)
  t.equal(all.json().next_cursor, null, 'exactly 51 events')
  const page = await list(app, {})
  t.equal(page.statusCode, 200)
  t.equal(page.json().data.length, 50)
  t.type(page.json().next_cursor, 'string')
  const rest = await list(app, { cursor: page.json().next_cursor })
  t.equal(rest.statusCode, 200)
  t.equal(rest.json().data.length, 1)
  t.equal(rest.json().next_cursor, null)
})

t.test('lists stay right however many shapes of query come (which filters, how many values each, which sort)', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  const event = await createEvent(app, { company_id: company.id })
  const others = Array.from({ length: 99 }, () => randomUUID())
  const wrong: string[] = []
  // 300 shapes: more than the server keeps built, so that some are dropped and built again.
  for (const sort of ['-date', 'date', 'created_at']) {
    for (let n = 0; n < 100; n++) {
      const res = await list(app, { company_id: [company.id, ...others.slice(0, n)].join(','), sort })
      const ids = res.statusCode === 200 ? res.json().data.map((e: Event) => e.id) : []
      if (ids.length !== 1 || ids[0] !== event.id) wrong.push(`${sort} with ${n + 1} ids: ${res.statusCode} ${ids.join(' ')}`)
    }
  }
  t.same(wrong, [], 'each of 300 shapes lists the one event')
  const again = await list(app, { company_id: company.id, sort: '-date' })
  t.same(again.json().data.map((e: Event) => e.id), [event.id], 'the first shape again, once dropped')
  const other = await list(app, { company_id: others[0]!, sort: '-date' })
  t.same(other.json().data, [], 'the same shape with another value')
})

t.test('invalid queries are 400 problems naming the parameter', async (t) => {
  const app = await buildTestApp(t)
  const company = await createCompany(app)
  await createEvent(app, { company_id: company.id })

  const cases: Array<[string, string, string]> = [
    ['company_id=not-a-uuid', '/company_id', 'invalid uuid'],
    [`company_id=${company.id},`, '/company_id', 'trailing comma'],
    [`company_id=urn:uuid:${company.id}`, '/company_id', 'urn form'],
    [`company_id=${company.id};${company.id}`, '/company_id', 'wrong separator'],
    ['region=XX', '/region', 'unknown code'],
    ['region=UA,XX', '/region', 'one unknown code of two'],
    ['region=UA-99', '/region', 'unknown subdivision'],
    ['region=R', '/region', 'too short'],
    ['region=RU,', '/region', 'trailing comma'],
    ['action=bogus', '/action', 'unknown action'],
    ['action=exit,bogus', '/action', 'one unknown action of two'],
    ['date_from=2022-03-09&date_to=2022-03-08', '/date_to', 'date_from after date_to'],
    ['date_from=2022-02-30', '/date_from', 'not a calendar date'],
    ['date_to=2022-13-01', '/date_to', 'no month 13'],
    ['date_from=2022-3-1', '/date_from', 'not YYYY-MM-DD'],
    ['date_to=yesterday', '/date_to', 'not a date'],
    ['date_from=0000-01-01', '/date_from', 'year 0, which Postgres cannot store'],
    ['sort=bogus', '/sort', 'unknown sort'],
    ['sort=id', '/sort', 'id is not a sort'],
    ['limit=0', '/limit', 'limit 0'],
    ['limit=201', '/limit', 'limit 201'],
    ['limit=0x10', '/limit', 'hex limit'],
    ['limit=1e1', '/limit', 'exponent limit'],
    ['limit=-1', '/limit', 'negative limit'],
    ['limit=1.5', '/limit', 'fractional limit'],
    ['limit=abc', '/limit', 'text limit'],
    ['limit=', '/limit', 'empty limit'],
    ['colour=red', '/colour', 'unknown parameter'],
    ['region=RU&colour=red', '/colour', 'unknown parameter beside a known one'],
    ['Region=RU', '/Region', 'parameter names are case-sensitive'],
    ['q=%00', '/q', 'NUL in q'],
    ['q=a%00b', '/q', 'NUL inside q'],
    ['company=%00', '/company', 'NUL in company'],
    ['service=x%00', '/service', 'NUL in service']
  ]
  for (const [query, pointer, what] of cases) {
    isQueryProblem(t, await list(app, query), pointer, `${what} (${query})`)
  }

  const unknown = await list(app, 'colour=red')
  t.match(unknown.json().detail, /colour/, 'the detail names the unknown parameter')
  const region = await list(app, 'region=XX')
  t.match(region.json().errors, [{ in: 'querystring', pointer: '/region', message: /XX/ }], 'the message names the unknown code')
})
