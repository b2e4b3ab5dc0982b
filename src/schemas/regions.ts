import { Type, type Static } from '@sinclair/typebox'

export const Region = Type.Object({
  code: Type.String({ maxLength: 6, description: 'ISO 3166-1 alpha-2 or ISO 3166-2 code.', examples: ['RU'] }),
  name: Type.String({ maxLength: 200, description: 'English (ISO) name.', examples: ['Russian Federation'] }),
  event_count: Type.Integer({ format: 'int64', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Events in this region that are not deleted.', examples: [9] })
}, { additionalProperties: false })
export type Region = Static<typeof Region>

export const RegionList = Type.Object({
  data: Type.Array(Region, { maxItems: 10000 })
}, {
  additionalProperties: false,
  description: 'Every region code that live events use, by code.',
  examples: [{ data: [{ code: 'BY', name: 'Belarus', event_count: 3 }, { code: 'RU', name: 'Russian Federation', event_count: 9 }] }]
})
export type RegionList = Static<typeof RegionList>
