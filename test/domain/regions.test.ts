import t from 'tap'
import { isCountryCode, isCountryLevel, isRegionCode, regionName } from '../../src/domain/regions.js'

t.test('country codes come from the ISO 3166-1 list, in any case', async (t) => {
  for (const code of ['RU', 'BY', 'UA', 'US', 'FR', 'ru', 'Fr']) t.ok(isCountryCode(code), code)
  for (const code of ['XX', 'UK', 'EU', 'RUS', 'R', '', 'UA-43', '12']) t.notOk(isCountryCode(code), code)
})

t.test('region codes are countries or ISO 3166-2 subdivisions', async (t) => {
  for (const code of ['RU', 'UA-43', 'ua-43', 'FR-75C', 'US-CA', 'RU-MOW']) t.ok(isRegionCode(code), code)
  for (const code of ['XX', 'UA-99', 'US-ZZ', 'UA-', '-43', 'UA43', 'UA_43', '']) t.notOk(isRegionCode(code), code)
})

t.test('region names are the English ISO names', async (t) => {
  t.equal(regionName('RU'), 'Russian Federation')
  t.equal(regionName('BY'), 'Belarus')
  t.equal(regionName('UA-43'), 'Avtonomna Respublika Krym')
  t.equal(regionName('XX'), undefined)
})

t.test('country level: a country matches its subdivisions, a subdivision only itself', async (t) => {
  t.ok(isCountryLevel('UA'))
  t.notOk(isCountryLevel('UA-43'))
})
