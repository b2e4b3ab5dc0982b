import Negotiator from 'negotiator'

export const EXPORT_MEDIA_TYPES = { csv: 'text/csv', ndjson: 'application/x-ndjson' } as const
export type ListFormat = 'json' | keyof typeof EXPORT_MEDIA_TYPES

const offered = ['application/json', EXPORT_MEDIA_TYPES.csv, EXPORT_MEDIA_TYPES.ndjson]
const formatOf: Record<string, ListFormat> = { 'application/json': 'json', 'text/csv': 'csv', 'application/x-ndjson': 'ndjson' }

/** The format an `Accept` header asks for, JSON when it names none, undefined when it accepts none we make. */
export function listFormatFor (accept: string | undefined): ListFormat | undefined {
  if (accept === undefined || accept.trim() === '') return 'json'
  const best = new Negotiator({ headers: { accept } }).mediaType(offered)
  return best === undefined ? undefined : formatOf[best]
}

/** A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"). */
export const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r'] as const
const formulaStart = new Set<string>(FORMULA_STARTS)

/** A text cell that a spreadsheet shows as text: a leading formula character gets a `'` before it. */
export function neutraliseFormula (cell: string): string {
  return formulaStart.has(cell.charAt(0)) ? `'${cell}` : cell
}
