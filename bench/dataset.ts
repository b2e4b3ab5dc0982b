import { Readable } from 'node:stream'
import { sql } from 'drizzle-orm'
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64'
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus'
import type { Db } from '../src/db/client.js'

export interface DatasetSize { companies: number, events: number, seed: number }

const REGIONS = [
  'RU', 'BY', 'UA', 'KZ', 'UZ', 'AM', 'GE', 'AZ', 'KG', 'TJ', 'MD', 'CN', 'IR', 'TR', 'IN', 'US', 'DE', 'FR', 'GB', 'PL',
  'FI', 'EE', 'LV', 'LT', 'SE', 'NO', 'IT', 'ES', 'NL', 'BE', 'AT', 'CH', 'CZ', 'SK', 'HU', 'RO', 'BG', 'RS', 'HR', 'SI',
  'GR', 'PT', 'IE', 'DK', 'JP', 'KR', 'BR', 'MX', 'CA', 'AU', 'UA-43', 'UA-14', 'UA-09', 'UA-23', 'UA-65', 'RU-MOW', 'RU-SPE',
  'RU-KDA', 'GE-AB', 'MD-SN'
]
const SECTORS = ['Consumer Discretionary', 'Consumer Staples', 'Energy', 'Financials', 'Health Care', 'Industrials',
  'Information Technology', 'Materials', 'Communication Services', 'Utilities', 'Real Estate', 'NGO']
const COUNTRIES = ['US', 'DE', 'FR', 'GB', 'JP', 'CN', 'IT', 'CH', 'NL', 'SE', 'FI', 'CA', 'KR', 'IN', 'ES', 'AT', 'RU', 'TR']
const SERVICES = ['All operations', 'Retail shipping', 'Streaming', 'Cloud new accounts', 'Advertising', 'Imports', 'Exports',
  'New investments', 'Manufacturing', 'Retail stores', 'Payments', 'Software licences', 'Support', 'Logistics', 'Banking',
  'Insurance', 'Consulting', 'Hotels', 'Flights', 'Franchise']
const SUMMARIES = [
  'The company suspended deliveries and closed its local offices.',
  'It stopped accepting new customers and paused investments.',
  "L'entreprise arrête les livraisons et suspend ses activités commerciales.",
  'La société a cédé sa filiale locale à un acheteur local.',
  'Компания приостановила поставки и закрыла местные офисы.',
  'Компания продолжает работать в обычном режиме.',
  'Business continues as usual despite pressure to leave.',
  'The company sold its subsidiary and exited the market for good.'
]
const SYLLABLES = ['ka', 'lo', 'mi', 'ran', 'tor', 'vex', 'zen', 'qua', 'bel', 'dor', 'fin', 'gar', 'hol', 'jun', 'kor', 'lux',
  'mar', 'nor', 'pol', 'ser', 'tak', 'ulm', 'vin', 'wes', 'xan', 'yor']

const ACTIONS = ['exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume']
const DAY = 86_400_000

/** Company i's name: three syllables, a fourth, and its number, as loadDataset makes it. */
export function companyName (i: number): string {
  const s = (n: number) => SYLLABLES[n % SYLLABLES.length]!
  const title = (word: string) => word[0]!.toUpperCase() + word.slice(1)
  return `${title(s(i * 7) + s(i * 13) + s(Math.floor(i / 26)))} ${title(s(Math.floor(i / 676)))} ${i}`
}

/** One event as an import line: the distributions of loadDataset, with each summary and external_id its own. */
export interface DatasetLine {
  company: { name: string, country: string, sector: string },
  region: string,
  service: string,
  action: string,
  date: string,
  summary: string,
  sources: Array<{ url: string, publisher: string, title: string, language: string }>,
  external_id: string
}

/**
 * The dataset as the lines of an import, generated as they are read (seeded, so the same size and seed give the same
 * lines): company k of about 1/k of the events, regions skewed towards the first, dates 2014–2026, English, French and
 * Russian summaries, one source of events/5 per event. `format` turns a line into the text sent.
 */
export function datasetLines (size: DatasetSize, format: (line: DatasetLine) => string): Readable {
  const rng = xoroshiro128plus(size.seed)
  const random = () => uniformFloat64(rng)
  const sourceCount = Math.max(Math.floor(size.events / 5), 1)
  const start = Date.UTC(2014, 0, 1)
  let i = 0
  return new Readable({
    read () {
      if (i >= size.events) return this.push(null)
      const chunk: string[] = []
      for (const end = Math.min(size.events, i + 1000); i < end; i++) {
        const c = Math.floor(size.companies ** random())
        const source = 1 + (i % sourceCount)
        chunk.push(format({
          company: { name: companyName(c), country: COUNTRIES[(c * 31) % COUNTRIES.length]!, sector: SECTORS[(c * 17) % SECTORS.length]! },
          region: REGIONS[Math.floor(random() ** 2 * REGIONS.length)]!,
          service: SERVICES[Math.floor(random() * SERVICES.length)]!,
          action: ACTIONS[Math.floor(random() ** 1.5 * ACTIONS.length)]!,
          date: new Date(start + Math.floor(random() * 4700) * DAY).toISOString().slice(0, 10),
          // Summaries are mostly distinct in real data, and each costs its own search vector.
          summary: `${SUMMARIES[Math.floor(random() * SUMMARIES.length)]!} Report ${i + 1}.`,
          sources: [{ url: `https://news.example.com/article/${source}`, publisher: 'Example News', title: `Report ${source} on market exits`, language: 'en' }],
          external_id: `bench-${i + 1}`
        }))
      }
      this.push(chunk.join(''))
    }
  })
}

const arr = (values: readonly string[]) => sql.raw(`ARRAY[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(',')}]`)

/**
 * The same distributions written straight into the tables (seeded `random()` in Postgres, so the same size and seed
 * give the same rows), with eight summaries shared by all events: how the PGlite scenarios get their 100,000 events
 * in seconds, where the import path would take minutes.
 */
export async function loadDataset (database: Db, size: DatasetSize): Promise<void> {
  // One transaction: one connection, so that setseed() governs every random() and the temporary table lives on.
  await database.transaction(async (db) => {
    // The rows are consistent by construction; the per-row integrity triggers would only slow the load.
    await db.execute(sql`SET LOCAL session_replication_role = replica`)
    await db.execute(sql`SELECT setseed(${(size.seed % 1000) / 1000})`)
    await db.execute(sql`
    INSERT INTO companies (id, name, aliases, country, sector, created_at, updated_at)
    SELECT md5('company' || i)::uuid, name, aliases,
      (${arr(COUNTRIES)})[1 + (i * 31) % ${COUNTRIES.length}],
      (${arr(SECTORS)})[1 + (i * 17) % ${SECTORS.length}],
      timestamp '2022-01-01' + i * interval '1 second', timestamp '2022-01-01' + i * interval '1 second'
    FROM generate_series(1, ${size.companies}) AS i, (SELECT ${arr(SYLLABLES)} AS s) syl,
      LATERAL (SELECT initcap(s[1 + (i * 7) % 26] || s[1 + (i * 13) % 26] || s[1 + (i / 26) % 26]) || ' ' ||
        initcap(s[1 + (i / 676) % 26]) || ' ' || i AS name0) base,
      LATERAL (SELECT name0 AS name,
        -- Every fifth company has its name transliterated to Cyrillic as an alias.
        CASE WHEN i % 5 = 0 THEN ARRAY[translate(name0, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', 'абцдефгхийклмнопкрстуввхизАБЦДЕФГХИЙКЛМНОПКРСТУВВХИЗ')] ELSE '{}' END AS aliases) named`)
    // What the companies_set_name_search and companies_sync_names triggers would have written.
    await db.execute(sql`UPDATE companies SET name_search = fold_text(array_to_string(name || aliases, chr(31)))`)
    await db.execute(sql`
    INSERT INTO company_names (company_id, position, kind, name, key)
    SELECT c.id, n.position - 1, CASE WHEN n.position = 1 THEN 'name' ELSE 'alias' END, n.name, name_key(n.name)
    FROM companies c, unnest(c.name || c.aliases) WITH ORDINALITY AS n(name, position)`)
    const sourceCount = Math.max(Math.floor(size.events / 5), 1)
    await db.execute(sql`
    INSERT INTO sources (id, url, publisher, title, language)
    SELECT md5('source' || i)::uuid, 'https://news.example.com/article/' || i, 'Example News',
      'Report ' || i || ' on market exits', 'en'
    FROM generate_series(1, ${sourceCount}) AS i`)
    // Rows are drawn in a temporary table first, so that each search document is computed once per
    // distinct text (the same document event_search_document() makes), not once per event.
    await db.execute(sql`
    CREATE TEMPORARY TABLE drawn ON COMMIT DROP AS
    SELECT i,
      md5('event' || i)::uuid AS id,
      -- Company k gets a share of events proportional to about 1/k: a few have thousands, most a handful.
      md5('company' || floor(${size.companies} ^ random())::int)::uuid AS company_id,
      (${arr(REGIONS)})[1 + floor(random() ^ 2 * ${REGIONS.length})::int] AS region,
      (${arr(SERVICES)})[1 + floor(random() * ${SERVICES.length})::int] AS service,
      (ARRAY['exit','suspend','scale_back','pause_new_business','continue','resume'])[1 + floor(random() ^ 1.5 * 6)::int] AS action,
      date '2014-01-01' + floor(random() * 4700)::int AS date,
      (${arr(SUMMARIES)})[1 + floor(random() * ${SUMMARIES.length})::int] AS summary,
      md5('source' || (1 + i % ${sourceCount}))::uuid AS source_id
    FROM generate_series(1, ${size.events}) AS i`)
    await db.execute(sql`
    WITH company_docs AS (
      SELECT id, setweight(search_vector(array_to_string(name || aliases, ' ')), 'A') AS doc FROM companies),
    service_docs AS (
      SELECT service, setweight(search_vector(service), 'B') AS doc FROM (SELECT DISTINCT service FROM drawn) s),
    summary_docs AS (
      SELECT summary, setweight(search_vector(summary), 'C') AS doc FROM (SELECT DISTINCT summary FROM drawn) s),
    source_docs AS (
      SELECT id, setweight(search_vector(title), 'D') AS doc FROM sources)
    INSERT INTO events (id, company_id, region, service, action, date, date_precision, summary, search, created_at, updated_at)
    SELECT d.id, d.company_id, d.region, d.service, d.action, d.date, 'day', d.summary,
      cd.doc || sd.doc || su.doc || src.doc,
      timestamp '2023-01-01' + d.i * interval '10 milliseconds', timestamp '2023-01-01' + d.i * interval '10 milliseconds'
    FROM drawn d
    JOIN company_docs cd ON cd.id = d.company_id
    JOIN service_docs sd ON sd.service = d.service
    JOIN summary_docs su ON su.summary = d.summary
    JOIN source_docs src ON src.id = d.source_id
    ORDER BY d.i`)
    await db.execute(sql`INSERT INTO event_sources (event_id, source_id, position) SELECT id, source_id, 0 FROM drawn ORDER BY i`)
    // What the rollup triggers would have counted.
    await db.execute(sql`SELECT rebuild_event_rollups()`)
  })
  await database.execute(sql`ANALYZE`)
}
