import createError from '@fastify/error'

/** One failing input: where it is (`body`, `querystring`, `params`, `headers`), a JSON pointer and why. */
export interface FieldError { in: string, pointer: string, message: string }

const InvalidInputBase = createError('APP_VALIDATION', '%s', 400)
/** A 400 for input that the schema allows but the data does not (an unknown company, a duplicate URL). */
export class InvalidInput extends InvalidInputBase {
  readonly errors: FieldError[]
  constructor (error: FieldError) {
    super(`${error.in}${error.pointer} ${error.message}`)
    this.errors = [error]
  }
}

const WebhookTargetRefusedBase = createError('APP_WEBHOOK_TARGET_REFUSED', '%s', 422)
/** A 422 for a webhook URL whose host deliveries may not reach (SSRF protection); names `/url`. */
export class WebhookTargetRefused extends WebhookTargetRefusedBase {
  readonly errors: FieldError[]
  constructor (reason: string) {
    super(`body/url is refused as a webhook target: ${reason}`)
    this.errors = [{ in: 'body', pointer: '/url', message: `is refused as a webhook target: ${reason}` }]
  }
}

export const InvalidCursor = createError('APP_CURSOR_INVALID', 'cursor %s', 400)
export const Unauthorized = createError('APP_AUTH_UNAUTHORIZED', '%s', 401)
export const Forbidden = createError('APP_AUTH_FORBIDDEN', 'This API key lacks the %s scope', 403)
export const CompanyNotFound = createError('APP_COMPANY_NOT_FOUND', 'Company %s not found', 404)
export const EventNotFound = createError('APP_EVENT_NOT_FOUND', 'Event %s not found', 404)
export const ApiKeyNotFound = createError('APP_API_KEY_NOT_FOUND', '%s', 404)
export const WebhookNotFound = createError('APP_WEBHOOK_NOT_FOUND', 'Webhook subscription %s not found', 404)
export const WebhookDeliveryNotFound = createError('APP_WEBHOOK_DELIVERY_NOT_FOUND', 'Delivery %s of webhook subscription %s not found', 404)
export const CompanyConflict = createError('APP_COMPANY_CONFLICT', 'Another company already has this %s', 409)
export const CompanyHasEvents = createError('APP_COMPANY_HAS_EVENTS', 'Company %s still has events; delete them first', 409)
export const EventConflict = createError('APP_EVENT_CONFLICT', 'Another event already has this external_id', 409)
export const ApiKeyConflict = createError('APP_API_KEY_CONFLICT', 'An active API key named %s already exists', 409)
export const PreconditionFailed = createError('APP_PRECONDITION_FAILED', 'If-Match %s does not match the current ETag %s', 412)
export const IdempotencyKeyReused = createError('APP_IDEMPOTENCY_KEY_REUSED',
  'This Idempotency-Key was already used with another request (method, path or body); use a new key for a new request', 422)
export const NotDeleted = createError('APP_NOT_DELETED', 'The %s %s is not deleted; there is nothing to restore', 409)
export const RestoreConflict = createError('APP_RESTORE_CONFLICT', '%s', 409)
export const NotAcceptable = createError('APP_NOT_ACCEPTABLE', 'This resource can be had as %s', 406)
export const RateLimited = createError('APP_RATE_LIMITED', 'The rate limit of %s requests per %s seconds is exhausted; retry in %s seconds', 429)
export const ImportNotFound = createError('APP_IMPORT_NOT_FOUND', 'Import %s not found', 404)
export const PayloadTooLarge = createError('APP_PAYLOAD_TOO_LARGE', 'The body is larger than the limit of %s bytes', 413)

const UnsupportedCharsetBase = createError('APP_UNSUPPORTED_CHARSET', '%s', 415)
/** A 415 for a body declared in a character set other than UTF-8, which is all the import reads; names the header. */
export class UnsupportedCharset extends UnsupportedCharsetBase {
  readonly errors: FieldError[]
  constructor (charset: string) {
    super(`The body is declared as charset=${charset}; imports read UTF-8 only`)
    this.errors = [{ in: 'headers', pointer: '/content-type', message: 'must declare charset=utf-8, or no charset' }]
  }
}
