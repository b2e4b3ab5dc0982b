type Snapshot = Record<string, unknown>

/**
 * A recorded event in the shape the API serves today. History rows keep what was recorded, so an event
 * recorded before a field existed lacks it; the field's value for it is what the migration gave live rows.
 */
export function currentEventShape (data: Snapshot): Snapshot {
  const sources = (data.sources as Snapshot[] | undefined) ?? []
  return {
    ...data,
    sources: sources.map((source) => ({ kind: null, archived_url: null, license: null, ...source })),
    source_count: data.source_count ?? sources.length
  }
}
