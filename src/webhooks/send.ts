import http from 'node:http'
import https from 'node:https'
import type { Cidr } from '../domain/addresses.js'
import { guardedLookup, refusedLiteralHost, TargetRefused } from './target.js'

export interface SendResult { status?: number, error?: string }

const MAX_ERROR_LENGTH = 500

/**
 * POSTs one delivery and reports the response status or why there was none. It never follows redirects
 * (a redirect could lead to an internal address), reads at most a little of the response, and gives up
 * after `timeoutMs` for the whole exchange.
 */
export function postWebhook (target: string, body: string, headers: Record<string, string>, options: { timeoutMs: number, allowed: Cidr[] }): Promise<SendResult> {
  const literalRefusal = refusedLiteralHost(target, options.allowed)
  if (literalRefusal) return Promise.resolve({ error: `refused: ${literalRefusal}` })
  const url = new URL(target)
  const transport = url.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    let settled = false
    const finish = (result: SendResult) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      resolve(result)
    }
    const req = transport.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: guardedLookup(options.allowed),
      // Each delivery opens its own connection, so that one receiver's sockets never outlive the attempt.
      agent: false
    }, (res) => {
      res.resume()
      res.on('error', () => {})
      finish({ status: res.statusCode ?? 0 })
    })
    const timer = setTimeout(() => {
      req.destroy()
      finish({ error: `no response within ${options.timeoutMs} ms` })
    }, options.timeoutMs)
    req.on('error', (err) => {
      const message = err instanceof TargetRefused ? `refused: ${err.reason}` : err.message
      finish({ error: message.slice(0, MAX_ERROR_LENGTH) })
    })
    req.end(body)
  })
}
