import t from 'tap'
import { parseCidrList, refusedAddress } from '../../src/domain/addresses.js'

t.test('only public unicast addresses are allowed', async (t) => {
  for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111']) t.equal(refusedAddress(address), undefined, address)
  for (const [address, range] of [
    ['127.0.0.1', 'loopback'], ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], ['0.0.0.0', 'unspecified'], ['224.0.0.1', 'multicast'], ['100.64.0.1', 'carrierGradeNat'],
    ['255.255.255.255', 'broadcast'], ['::1', 'loopback'], ['::', 'unspecified'], ['fe80::1', 'linkLocal'], ['fd00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'], ['::ffff:127.0.0.1', 'loopback'], ['::ffff:10.0.0.1', 'private']
  ] as const) {
    t.match(refusedAddress(address), new RegExp(`is a ${range} address$`), address)
  }
  t.match(refusedAddress('example.com'), /not an IP address/)
})

t.test('an allow-list admits the addresses in its ranges, of the same family', async (t) => {
  const allowed = parseCidrList(' 127.0.0.0/8 , ::1,10.0.0.0/24,')
  t.equal(allowed.length, 3)
  t.equal(refusedAddress('127.0.0.1', allowed), undefined)
  t.equal(refusedAddress('127.255.0.9', allowed), undefined)
  t.equal(refusedAddress('::1', allowed), undefined)
  t.equal(refusedAddress('::ffff:127.0.0.1', allowed), undefined, 'an IPv4-mapped address is judged as IPv4')
  t.equal(refusedAddress('10.0.0.200', allowed), undefined)
  t.ok(refusedAddress('10.0.1.1', allowed), 'outside the range')
  t.ok(refusedAddress('192.168.0.1', allowed))
  t.same(parseCidrList(''), [])
  t.throws(() => parseCidrList('127.0.0.0/8,nonsense'), /'nonsense' is not a CIDR range/)
  t.throws(() => parseCidrList('10.0.0.0/33'), /not a CIDR range/)
})
