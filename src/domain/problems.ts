import { STATUS_CODES } from 'node:http'

export interface ProblemKind { slug: string, title: string, explanation: string }

/** The kinds of error the API answers with, by status; `GET /problems/<slug>` explains each. */
export const problemKinds: Record<number, ProblemKind> = {
  400: { slug: 'validation-error', title: 'Request validation failed', explanation: 'The request is malformed (bad JSON, an unknown or missing field, a value out of its rules, an unknown query parameter, a bad cursor). `errors` names each failing field by where it is and a JSON pointer. Fix the request; repeating it as is will fail again.' },
  401: { slug: 'unauthorized', title: 'Authentication required', explanation: 'The operation needs an API key: send `Authorization: Bearer <key>`. The key given, if any, is unknown or revoked.' },
  403: { slug: 'forbidden', title: 'Insufficient scope', explanation: 'The API key is valid but lacks the scope this operation needs (`read`, `write` or `admin`).' },
  404: { slug: 'not-found', title: 'Resource not found', explanation: 'No resource or route exists at this path, or the resource was deleted.' },
  406: { slug: 'not-acceptable', title: 'Not acceptable', explanation: 'None of the media types in `Accept` can be produced for this resource.' },
  409: { slug: 'conflict', title: 'Conflict', explanation: 'The change conflicts with the current state: a unique field (external_id, lei, wikidata_id) is taken, or a company still has events.' },
  412: { slug: 'precondition-failed', title: 'Precondition failed', explanation: 'The `If-Match` header does not match the current ETag: the resource changed since you read it. Read it again, then retry.' },
  413: { slug: 'payload-too-large', title: 'Payload too large', explanation: 'The request body is larger than the server accepts.' },
  415: { slug: 'unsupported-media-type', title: 'Unsupported media type', explanation: 'The body\'s `Content-Type` is not one the operation takes: `application/json` (or `application/merge-patch+json` for PATCH), and for `POST /v1/imports` `application/x-ndjson` or `text/csv`. `errors` points at the header and says what it must be.' },
  422: { slug: 'idempotency-key-reused', title: 'Idempotency key reused', explanation: 'The `Idempotency-Key` was already used, within the last 24 hours and by the same API key, with another method, path or body. A key stands for one request: send a new key for a new request.' },
  429: { slug: 'rate-limited', title: 'Too many requests', explanation: 'The rate limit is exhausted; retry after `Retry-After` seconds.' },
  500: { slug: 'internal-error', title: 'Internal Server Error', explanation: 'A bug on our side. The details are in our logs under the `request_id`; please report it with that id.' },
  503: { slug: 'service-unavailable', title: 'Service unavailable', explanation: 'The database is unreachable, or the server is overloaded or took longer than it allows for a request, or a write kept conflicting with concurrent writes of the same rows (code `APP_WRITE_CONFLICT`: it was tried three times and nothing of it was applied). Retry after `Retry-After` seconds; a write that timed out may have been applied, so retry it with the same `Idempotency-Key`.' }
}

/** Kinds that share a status with another kind, told apart by the error's code. */
export const problemKindsByCode: Record<string, ProblemKind> = {
  APP_WEBHOOK_TARGET_REFUSED: { slug: 'webhook-target-refused', title: 'Webhook target refused', explanation: 'The webhook URL\'s host is, or resolves to, an address that deliveries may not reach: private, loopback, link-local, unique-local, multicast, unspecified or otherwise not public (or it does not resolve at all). Use a publicly reachable URL. `errors` points at `/url`.' }
}

const otherClientError: ProblemKind = { slug: 'client-error', title: 'Client error', explanation: 'The request could not be served as sent; `detail` says why.' }

/** The kind for a status; 4xx statuses without one of their own share a generic kind, with the status text as title. */
export function problemKindOf (status: number, code?: string): ProblemKind {
  const byCode = code === undefined ? undefined : problemKindsByCode[code]
  if (byCode) return byCode
  const kind = problemKinds[status]
  if (kind) return kind
  if (status >= 500) return problemKinds[500]!
  return { ...otherClientError, title: STATUS_CODES[status] ?? otherClientError.title }
}

/** The kind whose type URI ends in this slug. */
export function problemKindBySlug (slug: string): ProblemKind | undefined {
  return [...Object.values(problemKinds), ...Object.values(problemKindsByCode), otherClientError].find((kind) => kind.slug === slug)
}
