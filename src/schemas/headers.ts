/** The /v1 API is rate-limited; health, readiness, the OpenAPI document and the problem explanations are not. */
export const isRateLimited = (url: string | undefined): boolean => url?.startsWith('/v1/') === true

const integerHeader = (description: string) => ({
  description,
  schema: { type: 'integer' as const, format: 'int32', minimum: 0, maximum: 2147483647, examples: [60] }
})

/**
 * Response headers that plugins add across routes (CORS, rate limits, deprecation, consistency tokens), declared once under
 * `components.headers` and referenced from each response they appear on.
 */
export const headerComponents = {
  'Access-Control-Allow-Origin': {
    description: 'The request\'s `Origin`, when it is in the CORS allow-list (`CORS_ORIGINS`); absent otherwise.',
    schema: { type: 'string' as const, maxLength: 2048, examples: ['https://app.example.com'] }
  },
  'RateLimit-Limit': integerHeader('Requests allowed per window: per API key, or per client IP for requests without a key.'),
  'RateLimit-Remaining': integerHeader('Requests left in the current window.'),
  'RateLimit-Reset': integerHeader('Seconds until the current window ends and the limit is whole again.'),
  Deprecation: {
    description: 'The operation is deprecated, since this moment: `@` and Unix seconds (RFC 9745).',
    schema: { type: 'string' as const, maxLength: 30, examples: ['@1767225600'] }
  },
  Sunset: {
    description: 'When the deprecated operation will stop working, as an HTTP-date (RFC 8594); when one is planned.',
    schema: { type: 'string' as const, maxLength: 40, examples: ['Fri, 01 Jan 2027 00:00:00 GMT'] }
  },
  Link: {
    description: 'Where the deprecation is explained: `<url>; rel="deprecation"`; when there is such a page.',
    schema: { type: 'string' as const, maxLength: 2100, examples: ['<https://example.com/changelog#v2>; rel="deprecation"'] }
  },
  'Consistency-Token': {
    description: 'Where the database stood once this write was done (a WAL position). Send it as `Consistency-Token` on ' +
      'later reads to see this write: a read replica that has not caught up yet leaves such a read to the primary.',
    schema: { type: 'string' as const, maxLength: 17, pattern: '^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$', examples: ['0/1A2B3C48'] }
  }
}
type HeaderName = keyof typeof headerComponents

const WRITES = new Set(['post', 'put', 'patch', 'delete'])

interface Operation { deprecated?: boolean, responses?: Record<string, { headers?: Record<string, unknown> }> }

/** Adds the references to the headers of `headerComponents` to every response that carries them. */
export function documentResponseHeaders<T> (document: T): T {
  const paths = (document as { paths?: Record<string, Record<string, Operation>> }).paths ?? {}
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const names: HeaderName[] = ['Access-Control-Allow-Origin']
      if (isRateLimited(path)) names.push('RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset')
      if (operation.deprecated) names.push('Deprecation', 'Sunset', 'Link')
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        // Every successful write of the API (plugins/read-consistency.ts).
        const written: HeaderName[] = isRateLimited(path) && WRITES.has(method) && status.startsWith('2') ? ['Consistency-Token'] : []
        response.headers = { ...response.headers, ...Object.fromEntries([...names, ...written].map((n) => [n, { $ref: `#/components/headers/${n}` }])) }
      }
    }
  }
  return document
}
