/** What a subscription asks for; an absent list matches everything, and every given list must match. */
export interface WebhookFilters {
  company_id?: string[] | undefined
  region?: string[] | undefined
  action?: string[] | undefined
}

/** What a change is about, as far as filters can tell: an event has all three, a company only its id. */
export interface ChangeSubject {
  companyId?: string | undefined
  region?: string | undefined
  action?: string | undefined
}

/** A country code matches its subdivisions too (`UA` matches `UA-43`), as the event list's `region` filter does. */
function regionMatches (wanted: string, region: string): boolean {
  return region === wanted || (!wanted.includes('-') && region.startsWith(`${wanted}-`))
}

/** True when a change passes a subscription's filters. A filter on a field the change lacks does not match it. */
export function matchesFilters (filters: WebhookFilters, subject: ChangeSubject): boolean {
  if (filters.company_id && !(subject.companyId !== undefined && filters.company_id.includes(subject.companyId))) return false
  if (filters.region && !(subject.region !== undefined && filters.region.some((r) => regionMatches(r, subject.region!)))) return false
  if (filters.action && !(subject.action !== undefined && filters.action.includes(subject.action))) return false
  return true
}

/** The subject of a change from its history row: `data` is the resource as recorded (kept for deletes too). */
export function subjectOf (resourceType: string, resourceId: string, data: unknown): ChangeSubject {
  if (resourceType === 'company') return { companyId: resourceId }
  const record = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>
  const str = (value: unknown) => typeof value === 'string' ? value : undefined
  return { companyId: str(record.company_id), region: str(record.region), action: str(record.action) }
}
