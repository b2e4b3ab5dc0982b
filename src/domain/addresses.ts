import ipaddr from 'ipaddr.js'

export type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number]

/** Parses `WEBHOOK_ALLOWED_CIDRS`: comma-separated CIDRs (`127.0.0.0/8,::1/128`) or single addresses. */
export function parseCidrList (value: string): Cidr[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    try {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry)
      const address = ipaddr.parse(entry)
      return [address, address.kind() === 'ipv4' ? 32 : 128] as Cidr
    } catch {
      throw new Error(`'${entry}' is not a CIDR range or an IP address`)
    }
  })
}

/**
 * Why an address may not be a webhook target, or undefined when it may. Only public unicast addresses are
 * allowed (ipaddr.js names every special range: private, loopback, link-local, unique-local, multicast,
 * unspecified, carrier-grade NAT, reserved …), unless an allow-list range holds the address.
 * IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function refusedAddress (address: string, allowed: Cidr[] = []): string | undefined {
  if (!ipaddr.isValid(address)) return `'${address}' is not an IP address`
  const parsed = ipaddr.process(address)
  if (allowed.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return undefined
  const range = parsed.range()
  return range === 'unicast' ? undefined : `${parsed.toString()} is a ${range} address`
}
