import t from 'tap'
import { comparePostureOrder, postureIntervals, type PostureEvent } from '../../src/domain/postures.js'

let n = 0
const ev = (service: string, action: string, date: string, createdAt: string, extra: Partial<PostureEvent> = {}): PostureEvent => ({
  id: `00000000-0000-7000-8000-${String(++n).padStart(12, '0')}`,
  service,
  action,
  date,
  date_precision: 'day',
  created_at: createdAt,
  ...extra
})

t.test('comparePostureOrder: by date, then by when recorded, then by id', async (t) => {
  const a = ev('S', 'exit', '2022-03-01', '2024-01-01T00:00:00.000002Z')
  const b = ev('S', 'exit', '2022-03-02', '2024-01-01T00:00:00.000001Z')
  t.ok(comparePostureOrder(a, b) < 0, 'earlier date first, whatever the recording time')
  t.ok(comparePostureOrder(b, a) > 0)
  const c = ev('S', 'exit', '2022-03-01', '2024-01-01T00:00:00.000001Z')
  t.ok(comparePostureOrder(c, a) < 0, 'same date: recorded earlier first')
  const d = { ...c, id: 'ffffffff-0000-7000-8000-000000000000' }
  t.ok(comparePostureOrder(c, d) < 0, 'same date and recording time: by id')
  t.ok(comparePostureOrder(d, c) > 0)
  t.equal(comparePostureOrder(c, { ...c }), 0, 'an event equals itself')
})

t.test('postureIntervals: suspend, exit, resume', async (t) => {
  const suspend = ev('All operations', 'suspend', '2022-03-01', '2024-01-01T00:00:00.000001Z')
  const exit = ev('All operations', 'exit', '2022-09-01', '2024-01-01T00:00:00.000002Z')
  const resume = ev('All operations', 'resume', '2023-06-01', '2024-01-01T00:00:00.000003Z')
  const input = [resume, suspend, exit]
  const copy = [...input]
  t.same(postureIntervals(input), [
    { from: '2022-03-01', to: '2022-09-01', service: 'All operations', action: 'suspend', date: '2022-03-01', date_precision: 'day', event_id: suspend.id },
    { from: '2022-09-01', to: '2023-06-01', service: 'All operations', action: 'exit', date: '2022-09-01', date_precision: 'day', event_id: exit.id },
    { from: '2023-06-01', to: null, service: 'All operations', action: 'resume', date: '2023-06-01', date_precision: 'day', event_id: resume.id }
  ])
  t.same(input, copy, 'the input is not reordered')
  t.same(postureIntervals([]), [], 'no events, no intervals')
})

t.test('postureIntervals: an event superseded on its own date implies no interval', async (t) => {
  const first = ev('Retail', 'suspend', '2022-03-01', '2024-01-01T00:00:00.000001Z')
  const second = ev('Retail', 'pause_new_business', '2022-03-01', '2024-01-01T00:00:00.000002Z')
  const third = ev('Retail', 'exit', '2022-03-01', '2024-01-01T00:00:00.000003Z')
  const later = ev('Retail', 'resume', '2022-05-01', '2024-01-01T00:00:00.000000Z')
  t.same(postureIntervals([third, later, first, second]), [
    { from: '2022-03-01', to: '2022-05-01', service: 'Retail', action: 'exit', date: '2022-03-01', date_precision: 'day', event_id: third.id },
    { from: '2022-05-01', to: null, service: 'Retail', action: 'resume', date: '2022-05-01', date_precision: 'day', event_id: later.id }
  ], 'the last one recorded on the date holds; one recorded earlier on a later date still comes after')
})

t.test('postureIntervals: per service, services sorted, month and year precision at their start', async (t) => {
  const video = ev('Prime Video', 'suspend', '2022-03-01', '2024-01-01T00:00:00.000005Z', { date_precision: 'month' })
  const videoLater = ev('Prime Video', 'exit', '2022-03-15', '2024-01-01T00:00:00.000001Z')
  const aws = ev('AWS', 'pause_new_business', '2022-01-01', '2024-01-01T00:00:00.000009Z', { date_precision: 'year' })
  const awsLater = ev('AWS', 'continue', '2023-02-01', '2024-01-01T00:00:00.000002Z')
  t.same(postureIntervals([videoLater, awsLater, video, aws]), [
    { from: '2022-01-01', to: '2023-02-01', service: 'AWS', action: 'pause_new_business', date: '2022-01-01', date_precision: 'year', event_id: aws.id },
    { from: '2023-02-01', to: null, service: 'AWS', action: 'continue', date: '2023-02-01', date_precision: 'day', event_id: awsLater.id },
    { from: '2022-03-01', to: '2022-03-15', service: 'Prime Video', action: 'suspend', date: '2022-03-01', date_precision: 'month', event_id: video.id },
    { from: '2022-03-15', to: null, service: 'Prime Video', action: 'exit', date: '2022-03-15', date_precision: 'day', event_id: videoLater.id }
  ], 'one service never ends another one\'s interval')
})
