/** What an event contributes to a timeline: enough to order it and to say the posture it sets. */
export interface PostureEvent {
  id: string
  service: string
  action: string
  date: string
  date_precision: string
  created_at: string
}

export interface PostureInterval<Action extends string = string, Precision extends string = string> {
  from: string
  to: string | null
  service: string
  action: Action
  date: string
  date_precision: Precision
  event_id: string
}

/** The order in which events set postures: by date, then by when they were recorded, then by id. */
export function comparePostureOrder (a: PostureEvent, b: PostureEvent): number {
  return a.date.localeCompare(b.date) || a.created_at.localeCompare(b.created_at) || a.id.localeCompare(b.id)
}

/**
 * The posture intervals that one region's events imply, per service: each event holds from its date
 * until the next event for the same service (exclusive), or for good. An event superseded on its own
 * date implies no interval. Intervals come out by service, then by date.
 */
export function postureIntervals<E extends PostureEvent> (events: E[]): Array<PostureInterval<E['action'], E['date_precision']>> {
  const byService = new Map<string, E[]>()
  for (const event of [...events].sort(comparePostureOrder)) {
    byService.set(event.service, [...(byService.get(event.service) ?? []), event])
  }
  const intervals: Array<PostureInterval<E['action'], E['date_precision']>> = []
  for (const service of [...byService.keys()].sort()) {
    const ordered = byService.get(service)!
    ordered.forEach((event, i) => {
      const to = ordered[i + 1]?.date ?? null
      if (to === event.date) return
      intervals.push({
        from: event.date, to, service, action: event.action, date: event.date, date_precision: event.date_precision, event_id: event.id
      })
    })
  }
  return intervals
}
