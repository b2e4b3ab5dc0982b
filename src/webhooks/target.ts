import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { refusedAddress, type Cidr } from '../domain/addresses.js'

/** Thrown when a webhook target resolves to an address that may not be called. */
export class TargetRefused extends Error {
  constructor (readonly reason: string) { super(reason) }
}

/** The URL's host without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1')

function resolveAll (host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => err ? reject(err) : resolve(addresses))
  })
}

/** Why a target URL may not be called now, or undefined: every address its host resolves to must be allowed. */
export async function refusedTarget (target: string, allowed: Cidr[]): Promise<string | undefined> {
  const url = new URL(target)
  const host = hostOf(url)
  if (isIP(host)) return refusedAddress(host, allowed)
  let addresses: LookupAddress[]
  try {
    addresses = await resolveAll(host)
  } catch {
    return `${host} does not resolve`
  }
  for (const { address } of addresses) {
    const reason = refusedAddress(address, allowed)
    if (reason) return `${host} resolves to ${reason}`
  }
  return addresses.length === 0 ? `${host} does not resolve` : undefined
}

/**
 * A `lookup` for http.request that refuses disallowed addresses at connection time. Checking the name
 * once and connecting later would let its DNS answer change in between (DNS rebinding); here the checked
 * answer is the one connected to.
 */
export function guardedLookup (allowed: Cidr[]): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 0)
      const list = addresses as unknown as LookupAddress[]
      for (const { address } of list) {
        const reason = refusedAddress(address, allowed)
        if (reason) return callback(new TargetRefused(`${hostname} resolves to ${reason}`), '', 0)
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list)
      const first = list[0]
      if (!first) return callback(new TargetRefused(`${hostname} does not resolve`), '', 0)
      callback(null, first.address, first.family)
    })
  }
}

/** Checks an IP literal host, which http.request connects to without any lookup. */
export function refusedLiteralHost (target: string, allowed: Cidr[]): string | undefined {
  const host = hostOf(new URL(target))
  return isIP(host) ? refusedAddress(host, allowed) : undefined
}
