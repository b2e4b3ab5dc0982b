import t from 'tap'
import { toRfc3339 } from '../../src/domain/time.js'

t.test('Postgres UTC timestamps become RFC 3339 with microseconds', async (t) => {
  t.equal(toRfc3339('2026-11-26 15:11:08.12+00'), '2026-11-26T15:11:08.120000Z')
  t.equal(toRfc3339('2026-11-26 15:11:08.123456+00'), '2026-11-26T15:11:08.123456Z')
  t.equal(toRfc3339('2026-11-26 15:11:08+00'), '2026-11-26T15:11:08.000000Z', 'no fraction')
  t.equal(toRfc3339('2026-11-26T15:11:08.5+00:00'), '2026-11-26T15:11:08.500000Z')
  t.equal(toRfc3339('2026-11-26T15:11:08.000001Z'), '2026-11-26T15:11:08.000001Z')
  const out = toRfc3339('2022-03-08 00:00:00.1+00')
  t.equal(new Date(out).toISOString(), '2022-03-08T00:00:00.100Z', 'JavaScript reads the result')
})

t.test('anything but a UTC timestamp throws', async (t) => {
  t.throws(() => toRfc3339('2026-11-26 15:11:08+01'), /not a UTC timestamp/)
  t.throws(() => toRfc3339('2026-11-26'), /not a UTC timestamp/)
  t.throws(() => toRfc3339('2026-11-26 15:11:08.1234567+00'), /not a UTC timestamp/, 'more than microseconds')
  t.throws(() => toRfc3339('yesterday'), /not a UTC timestamp/)
})
