import t from 'tap'
import { isValidLei } from '../../src/domain/lei.js'

// Real LEIs from the GLEIF register.
const real = {
  'Apple Inc.': 'HWUPKR0MPOU8FGXBT394',
  'Amazon.com, Inc.': 'ZXTILKJKG63JELOEG630',
  'Microsoft Corporation': 'INR2EJN1ERAN0W5ZP974',
  'Deutsche Bank AG': '7LTWFZYICNSX8D621K86'
}

t.test('real LEIs verify', async (t) => {
  for (const [name, lei] of Object.entries(real)) t.ok(isValidLei(lei), `${name} ${lei}`)
})

t.test('a wrong check digit, a typo or a transposition fails', async (t) => {
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT395'), 'last check digit off by one')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT384'), 'first check digit changed')
  t.notOk(isValidLei('HWUPKR0MP0U8FGXBT394'), 'letter O typed as zero')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXTB394'), 'two adjacent characters swapped')
  t.notOk(isValidLei('ZXTILKJKG63JELOEG603'), 'check digits swapped')
})

t.test('the shape is enforced: 20 characters, upper case, digits at the end', async (t) => {
  t.notOk(isValidLei(''), 'empty')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT39'), '19 characters')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT3940'), '21 characters')
  t.notOk(isValidLei('hwupkr0mpou8fgxbt394'), 'lower case (the API upper-cases before checking)')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT3A4'), 'a letter among the check digits')
  t.notOk(isValidLei('HWUPKR0MPOU8FGXBT-94'), 'punctuation')
  t.notOk(isValidLei(' HWUPKR0MPOU8FGXBT394'), 'leading space')
})

t.test('the check holds without losing precision on long numbers', async (t) => {
  // All letters Z expand to 36 digits of "35", far beyond exact double precision as one number.
  const body = 'ZZZZZZZZZZZZZZZZZZ'
  const valid = [...Array(100).keys()].map((n) => `${body}${String(n).padStart(2, '0')}`).filter(isValidLei)
  t.equal(valid.length, 1, 'exactly one pair of check digits completes a body')
  const expanded = BigInt([...valid[0]!].map((ch) => parseInt(ch, 36)).join(''))
  t.equal(expanded % 97n, 1n, 'and it is the one that BigInt arithmetic agrees with')
})
