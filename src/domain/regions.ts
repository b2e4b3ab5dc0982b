import { iso31661, iso31662 } from 'iso-3166'

const countryNames = new Map(iso31661.map((c) => [c.alpha2, c.name]))
const subdivisionNames = new Map(iso31662.map((s) => [s.code, s.name]))

/** True for an assigned ISO 3166-1 alpha-2 code, in any letter case. */
export function isCountryCode (code: string): boolean {
  return countryNames.has(code.toUpperCase())
}

/** True for an ISO 3166-1 alpha-2 country or an ISO 3166-2 subdivision code, in any letter case. */
export function isRegionCode (code: string): boolean {
  const upper = code.toUpperCase()
  return countryNames.has(upper) || subdivisionNames.has(upper)
}

/** The English (ISO) name of a region code, or undefined for an unknown code. */
export function regionName (code: string): string | undefined {
  return countryNames.get(code) ?? subdivisionNames.get(code)
}

/** A country code matches itself and its subdivisions; a subdivision code matches itself only. */
export function isCountryLevel (code: string): boolean {
  return !code.includes('-')
}
