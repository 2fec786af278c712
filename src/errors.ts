import { STATUS_CODES } from 'node:http'

/** The error catalog: one row per row of API.md's error table. */
export const ERRORS = {
  validation_failed: { statusCode: 400, message: 'The request is not valid.' },
  invalid_json: { statusCode: 400, message: 'The request body is not valid JSON.' },
  token_missing: { statusCode: 401, message: 'A bearer token is required.' },
  token_invalid: { statusCode: 401, message: 'The token is not valid.' },
  token_expired: { statusCode: 401, message: 'Token has expired; log in again.' },
  token_revoked: { statusCode: 401, message: 'Token has been revoked; log in again.' },
  invalid_credentials: { statusCode: 401, message: 'Wrong login or password.' },
  account_disabled: { statusCode: 403, message: 'This account is disabled.' },
  email_unverified: { statusCode: 403, message: 'Verify your email address before logging in.' },
  insufficient_scope: { statusCode: 403, message: 'The token lacks the scope this route needs.' },
  forbidden: { statusCode: 403, message: 'You are not allowed to do this.' },
  not_found: { statusCode: 404, message: 'Not found.' },
  email_taken: { statusCode: 409, message: 'That email address is already registered.' },
  username_taken: { statusCode: 409, message: 'That username is already taken.' },
  token_limit_reached: { statusCode: 409, message: 'You have reached the limit of active tokens.' },
  // not in API.md's table, which has no code for a request that never arrived whole: a 408 needs
  // its own, since validation_failed would send the client to fix a body that was fine
  request_timeout: { statusCode: 408, message: 'The request did not arrive in time.' },
  payload_too_large: { statusCode: 413, message: 'The request body is too large.' },
  unsupported_media_type: { statusCode: 415, message: 'The request body must be JSON (application/json).' },
  rate_limited: { statusCode: 429, message: 'Too many requests; slow down.' },
  service_unavailable: { statusCode: 503, message: 'The service is temporarily unavailable.' },
  internal_error: { statusCode: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { statusCode: number; message: string }>

export type ErrorCode = keyof typeof ERRORS

export interface ErrorDetail {
  path: string
  message: string
}

export interface ApiErrorOptions {
  message?: string
  statusCode?: number
  details?: ErrorDetail[]
  headers?: Record<string, string>
}

/** A failure the client should see, rendered by the error handler in API.md's shape. */
export class ApiError extends Error {
  override name = 'ApiError'
  readonly code: ErrorCode
  readonly statusCode: number
  readonly details: ErrorDetail[] | undefined
  readonly headers: Record<string, string>

  constructor (code: ErrorCode, options: ApiErrorOptions = {}) {
    super(options.message ?? ERRORS[code].message)
    this.code = code
    this.statusCode = options.statusCode ?? ERRORS[code].statusCode
    this.details = options.details
    this.headers = options.headers ?? {}
  }

  toBody (): ErrorBody {
    return {
      statusCode: this.statusCode,
      error: STATUS_CODES[this.statusCode] ?? 'Error',
      code: this.code,
      message: this.message,
      ...(this.details ? { details: this.details } : {}),
    }
  }
}

export interface ErrorBody {
  statusCode: number
  error: string
  code: ErrorCode
  message: string
  details?: ErrorDetail[]
}
