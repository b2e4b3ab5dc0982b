import { createHash } from 'node:crypto'

/**
 * The Yale CELI list of companies curtailing operations in Russia (Sonnenfeld et al.), as copied by
 * donBarbos/Yale_CELI_List_Parser and others: see /work/shared/data/README.md for where each copy comes from.
 */
export const YALE_SOURCE = {
  url: 'https://som.yale.edu/story/2022/over-1000-companies-have-curtailed-operations-russia-some-remain',
  publisher: 'Yale Chief Executive Leadership Institute',
  title: 'Over 1,000 Companies Have Curtailed Operations in Russia—But Some Remain',
  kind: 'dataset' as const,
  license: 'CC BY-NC-SA 4.0'
}

/** The contract's taxonomy: Yale's grade to our action. */
export const YALE_GRADE_ACTIONS = {
  A: 'exit',
  B: 'suspend',
  C: 'scale_back',
  D: 'pause_new_business',
  F: 'continue'
} as const

/** The home countries as Yale writes them, to ISO 3166-1 alpha-2. */
const COUNTRIES: Record<string, string> = {
  Andorra: 'AD',
  Australia: 'AU',
  Austria: 'AT',
  Azerbaijan: 'AZ',
  Belarus: 'BY',
  Belgium: 'BE',
  Bermuda: 'BM',
  Brazil: 'BR',
  Bulgaria: 'BG',
  Canada: 'CA',
  China: 'CN',
  Croatia: 'HR',
  Cyprus: 'CY',
  'Czech Republic': 'CZ',
  Czechia: 'CZ',
  Danish: 'DK',
  Denmark: 'DK',
  Egypt: 'EG',
  Estonia: 'EE',
  Finland: 'FI',
  France: 'FR',
  Germany: 'DE',
  Greece: 'GR',
  'Hong Kong': 'HK',
  Hungary: 'HU',
  Iceland: 'IS',
  India: 'IN',
  Ireland: 'IE',
  Israel: 'IL',
  Italy: 'IT',
  Japan: 'JP',
  Kazakhstan: 'KZ',
  Latvia: 'LV',
  Liechtenstein: 'LI',
  Lithuania: 'LT',
  Luxembourg: 'LU',
  Malaysia: 'MY',
  Malta: 'MT',
  Mexico: 'MX',
  Monaco: 'MC',
  Netherlands: 'NL',
  'New Zealand': 'NZ',
  Norway: 'NO',
  Panama: 'PA',
  Poland: 'PL',
  Portugal: 'PT',
  Qatar: 'QA',
  Romania: 'RO',
  Russia: 'RU',
  Serbia: 'RS',
  Singapore: 'SG',
  Slovakia: 'SK',
  Slovenia: 'SI',
  'South Africa': 'ZA',
  'South Korea': 'KR',
  Spain: 'ES',
  'Sri Lanka': 'LK',
  Sweden: 'SE',
  Switzerland: 'CH',
  Syria: 'SY',
  Taiwan: 'TW',
  Thailand: 'TH',
  Turkey: 'TR',
  Ukraine: 'UA',
  'United Arab Emirates': 'AE',
  'United Kingdom': 'GB',
  'United States': 'US',
  Uzbekistan: 'UZ',
  Vietnam: 'VN'
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }

/** Yale's cells as the snapshots were cleaned: HTML entities unescaped, whitespace collapsed and trimmed. */
export function cleanCell (value: string | undefined): string {
  return (value ?? '')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (whole, name: string) => {
      if (name.startsWith('#')) {
        const code = name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole
      }
      return ENTITIES[name.toLowerCase()] ?? whole
    })
    .replace(/\s+/g, ' ')
    .trim()
}

/** The ISO code of a country as Yale writes it; null when it is empty (the company is then stored without one) or unknown. */
export function countryCode (value: string): string | null {
  return COUNTRIES[cleanCell(value)] ?? null
}

/**
 * The external_id of a Yale row: the same for the same company (name and country, ignoring case and accents)
 * in every import, so that importing a list again changes nothing; snapshots also carry their date.
 */
export function yaleExternalId (name: string, country: string, snapshotDate?: string): string {
  const folded = (s: string) => cleanCell(s).normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase()
  const slug = folded(name).replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 60)
  const hash = createHash('sha256').update(`${folded(name)}\u001f${folded(country)}`).digest('hex').slice(0, 12)
  return `yale-celi:${snapshotDate === undefined ? '' : `${snapshotDate}:`}${slug}-${hash}`
}

export interface YaleRow { name?: string, action?: string, industry?: string, country?: string, grade?: string, snapshot_date?: string }

export type YaleMapping = { line: Record<string, unknown> } | { field: string, message: string }

/**
 * A Yale row as an import line: the company by name and country, one event in Russia for all operations,
 * the grade as the action, Yale's description as the summary and the list as the source.
 */
export function yaleLine (row: YaleRow, date: string): YaleMapping {
  const name = cleanCell(row.name)
  if (name === '') return { field: '/name', message: 'is empty' }
  const grade = cleanCell(row.grade).toUpperCase()
  const action = YALE_GRADE_ACTIONS[grade as keyof typeof YALE_GRADE_ACTIONS]
  if (action === undefined) return { field: '/grade', message: grade === '' ? 'is empty' : `'${grade}' is not a Yale grade (A, B, C, D or F)` }
  // An empty country is stored as none; one this table does not know is rejected rather than dropped.
  const country = countryCode(row.country ?? '')
  if (country === null && cleanCell(row.country) !== '') return { field: '/country', message: `'${cleanCell(row.country)}' is not a country of Yale's list` }
  const summary = cleanCell(row.action)
  const sector = cleanCell(row.industry)
  return {
    line: {
      company: { name, country, ...(sector === '' ? {} : { sector }) },
      region: 'RU',
      service: 'All operations',
      action,
      date,
      summary: summary === '' ? null : summary,
      sources: [YALE_SOURCE],
      external_id: yaleExternalId(row.name ?? '', row.country ?? '', row.snapshot_date)
    }
  }
}
