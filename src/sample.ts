import { count } from 'drizzle-orm'
import type { Db } from './db/client.js'
import { companies } from './db/schema.js'
import type { Services } from './plugins/services.js'
import type { EventCreate, SourceInput } from './schemas/events.js'
import { SYSTEM_ACTOR } from './services/revisions.js'

const amazonStatement: SourceInput = {
  url: 'https://www.aboutamazon.com/news/community/amazons-assistance-in-ukraine',
  publisher: 'Amazon',
  title: "Amazon's assistance in Ukraine",
  published_date: '2022-03-08',
  language: 'en'
}
// The French RT report of the same statement. Its article address is not known to us,
// so the source points at RT France's international news section.
const rtReport: SourceInput = {
  url: 'https://francais.rt.com/international',
  publisher: 'RT',
  title: 'Amazon arrête les livraisons et le streaming en Russie et en Biélorussie',
  published_date: '2022-03-09',
  language: 'fr'
}

type SampleEvent = Omit<EventCreate, 'company_id' | 'sources' | 'date'>

const amazonEvents: SampleEvent[] = [
  ...['RU', 'BY'].map((region) => ({
    region,
    service: 'Retail shipping',
    action: 'suspend' as const,
    summary: `Amazon suspended shipment of retail products to customers based in ${region === 'RU' ? 'Russia' : 'Belarus'}.`
  })),
  {
    region: 'RU',
    service: 'Prime Video',
    action: 'suspend',
    summary: 'Amazon suspended access to Prime Video for customers based in Russia.'
  },
  ...['RU', 'BY'].flatMap((region) => [{
    region,
    service: 'AWS new accounts',
    action: 'pause_new_business' as const,
    summary: `Amazon Web Services stopped accepting new customers based in ${region === 'RU' ? 'Russia' : 'Belarus'}.`
  }, {
    region,
    service: 'New third-party sellers',
    action: 'pause_new_business' as const,
    summary: `Amazon stopped accepting new third-party sellers based in ${region === 'RU' ? 'Russia' : 'Belarus'}.`
  }]),
  {
    region: 'RU',
    service: 'New World orders',
    action: 'pause_new_business',
    summary: 'Amazon stopped taking orders for New World, the only video game it sells directly in Russia.'
  }
]

const localRetailers = [
  { name: 'Ozon', aliases: ['Озон', 'Ozon Holdings PLC'] },
  { name: 'Wildberries', aliases: ['Вайлдберриз'] },
  { name: 'Yandex', aliases: ['Яндекс', 'Yandex Market'] }
]

/**
 * Loads the events of the March 2022 report on Amazon leaving Russia and Belarus, when the database
 * holds no companies yet, so that a newcomer's first `npm start` serves something real.
 */
export async function seedSample (db: Db, services: Services): Promise<boolean> {
  const [row] = await db.select({ n: count() }).from(companies)
  if ((row?.n ?? 0) > 0) return false
  const amazon = await services.companies.create({
    name: 'Amazon', aliases: ['Amazon.com, Inc.', 'Амазон', 'AMZN'], country: 'US', sector: 'Consumer Discretionary', wikidata_id: 'Q3884', website: 'https://www.aboutamazon.com'
  }, SYSTEM_ACTOR)
  for (const event of amazonEvents) {
    await services.events.create({
      ...event,
      company_id: amazon.id,
      date: '2022-03-08',
      sources: [amazonStatement, rtReport]
    }, SYSTEM_ACTOR)
  }
  for (const retailer of localRetailers) {
    const company = await services.companies.create({ ...retailer, country: 'RU', sector: 'Consumer Discretionary' }, SYSTEM_ACTOR)
    await services.events.create({
      company_id: company.id,
      region: 'RU',
      service: 'Online retail',
      action: 'continue',
      date: '2022-03-09',
      summary: `${retailer.name} kept trading in Russia while Amazon stopped shipping there.`,
      sources: [rtReport]
    }, SYSTEM_ACTOR)
  }
  return true
}
