import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { buildTestApp } from '../helper.js'

/** Keeps the event loop busy, as a flood of requests would. */
function blockEventLoop (ms: number) {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy */ }
}

t.test('a blocked event loop sheds API requests with a 503 problem; liveness and readiness still answer', async (t) => {
  const app = await buildTestApp(t, { OVERLOAD_MAX_EVENT_LOOP_UTILIZATION: '0.9' })
  // Start-up blocks the loop too, as a slow machine's would: that is not load, and requests are served.
  blockEventLoop(1500)
  await app.ready()
  await sleep(300)
  t.equal((await app.inject({ url: '/v1/events' })).statusCode, 200, 'served right after start-up')

  // Past the start-up's grace (two samples), so that the next sample, once a second, sees a busy loop.
  blockEventLoop(2500)
  let shed = await app.inject({ url: '/v1/events' })
  for (let i = 0; i < 60 && shed.statusCode !== 503; i++) {
    await sleep(50)
    shed = await app.inject({ url: '/v1/events' })
  }
  t.equal(shed.statusCode, 503, 'an API request is shed')
  t.equal(shed.json().code, 'APP_OVERLOADED')
  t.match(shed.headers['content-type'], /^application\/problem\+json/, 'with a problem')
  t.ok(Number(shed.headers['retry-after']) > 0, 'and Retry-After')
  t.equal((await app.inject({ url: '/healthz' })).statusCode, 200, 'liveness answers')
  const readiness = await app.inject({ url: '/readyz' })
  t.equal(readiness.statusCode, 200, 'readiness answers with its own body, not a problem it cannot serialise')
  t.equal(readiness.json().status, 'ready')
})
