import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import fp from 'fastify-plugin'
import { ApiError, type ErrorCode } from '../errors.js'

// fastify's own error codes, mapped onto API.md's catalog
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  // raised by the router before any route runs (a 10,000-character :id, a malformed %-escape)
  FST_ERR_MAX_PARAM_LENGTH: 'validation_failed',
  FST_ERR_BAD_URL: 'validation_failed',
}

const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: 'validation_failed',
  401: 'token_missing',
  403: 'forbidden',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'service_unavailable',
}

// postgres.js / Node socket errors and PostgreSQL's "connection exception" and shutdown codes
const DATABASE_DOWN = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '57P01',
  '57P02',
  '57P03',
  '53300',
])

/** True when an error (or its cause, as drizzle wraps driver errors) says the database is unreachable. */
export function isDatabaseUnavailable (error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; depth++) {
    const code = typeof e.code === 'string' ? e.code : ''
    if (DATABASE_DOWN.has(code) || code.startsWith('08')) return true
    e = e.cause as typeof e
  }
  return false
}

interface ValidationIssue {
  instancePath?: string
  message?: string
  params?: { missingProperty?: string }
}

function validationError (error: FastifyError): ApiError {
  const issues = (error.validation ?? []) as ValidationIssue[]
  const details = issues.map((issue) => {
    const missing = issue.params?.missingProperty
    const path = missing ? `${issue.instancePath ?? ''}/${missing}` : issue.instancePath || '/'
    return { path, message: issue.message ?? 'is not valid' }
  })
  const context = error.validationContext ?? 'body'
  const first = details[0]
  const message = first ? `${context}${first.path === '/' ? '' : first.path} ${first.message}` : error.message
  return new ApiError('validation_failed', { message, details })
}

/** Turns anything thrown into an ApiError; unknown errors become a bare 500 or 503. */
export function toApiError (error: unknown): ApiError {
  if (error instanceof ApiError) return error
  const e = (error ?? {}) as FastifyError
  if (e.validation) return validationError(e)
  const mapped = e.code ? FASTIFY_CODES[e.code] : undefined
  if (mapped) return new ApiError(mapped)
  if (isDatabaseUnavailable(error)) return new ApiError('service_unavailable')
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500
  const byStatus = CODE_BY_STATUS[status]
  if (status < 500 && byStatus) return new ApiError(byStatus, { statusCode: status })
  return new ApiError('internal_error')
}

/** API.md: every /v1 response is kept out of caches (tokens, personal data) and not content-sniffed. */
export function setApiHeaders (reply: FastifyReply) {
  reply.header('cache-control', 'no-store')
  reply.header('x-content-type-options', 'nosniff')
}

export function sendError (reply: FastifyReply, error: ApiError) {
  setApiHeaders(reply)
  if (error.statusCode === 401 && !error.headers['www-authenticate']) {
    reply.header('www-authenticate', 'Bearer realm="tessera"')
  }
  return reply.code(error.statusCode).headers(error.headers).type('application/json').send(error.toBody())
}

const MAX_ECHOED_PATH = 100

/**
 * What a 5xx logs. drizzle's DrizzleQueryError puts the query's parameters in its message (a
 * password hash, a token digest): log the SQL and the driver's error instead, never the values.
 */
function loggable (error: unknown): unknown {
  if (!(error instanceof DrizzleQueryError)) return error
  const redacted = new Error(`Failed query: ${error.query}`, { cause: error.cause })
  redacted.name = 'DrizzleQueryError'
  // the original stack's frames only: its header repeats the message, parameters included
  const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '))
  redacted.stack = [`${redacted.name}: ${redacted.message}`, ...frames].join('\n')
  return redacted
}

/**
 * A client that hangs up before its body has arrived fails the body stream with ECONNRESET
 * ("aborted"), which must not read as the database's ECONNRESET: it is no outage, and there is
 * nobody left to answer.
 */
const isClientAbort = (error: unknown, request: FastifyRequest) =>
  error != null && error === request.raw.errored && !request.raw.complete

/** fastify's refusals of a body while parsing it (not JSON, unparseable, too large): before any preHandler. */
const isBodyRefusal = (error: unknown) => {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('FST_ERR_CTP_')
}

/**
 * API.md checks the token before the body: a guarded route's body refused while parsing never
 * reached the guard, so it runs now, and its refusal (401, 403, 429) is the answer if it has one.
 */
async function guardFirst (app: FastifyInstance, error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (!isBodyRefusal(error) || request.routeOptions.config?.auth === undefined) return error
  return app.guard(request, reply).then(() => error, (refusal: unknown) => refusal)
}

/**
 * Renders anything thrown in API.md's shape, hiding the internals of 5xx: the error handler of
 * Tessera's routes, and the guard's on a host app's routes (where the error handler is the host's).
 */
export function renderError (thrown: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (isClientAbort(thrown, request)) {
    request.log.info({ reason: (thrown as Error).message }, 'client closed the connection before its request arrived')
    return sendError(reply, new ApiError('validation_failed', { message: 'The request body did not arrive.' }))
  }
  const apiError = toApiError(thrown)
  if (apiError.statusCode >= 500) {
    request.log.error({ err: loggable(thrown) }, apiError.code)
  } else if (!(thrown instanceof ApiError)) {
    request.log.info({ code: apiError.code, reason: (thrown as Error)?.message }, 'request refused')
  }
  return sendError(reply, apiError)
}

/** One handler renders every failure of Tessera's routes. */
async function errorHandler (app: FastifyInstance) {
  app.setErrorHandler(async (thrown: unknown, request: FastifyRequest, reply: FastifyReply) =>
    renderError(await guardFirst(app, thrown, request, reply), request, reply))
}

/** The 404 handler (set by the rate limiter, which counts unknown routes): API.md's error shape. */
export function notFound (request: FastifyRequest, reply: FastifyReply) {
  // the path only, capped: the query string may hold secrets and a long URL must not be echoed
  const path = request.url.split('?')[0] ?? ''
  const shown = path.length > MAX_ECHOED_PATH ? `${path.slice(0, MAX_ECHOED_PATH)}…` : path
  return sendError(reply, new ApiError('not_found', { message: `Route ${request.method} ${shown} not found` }))
}

export default fp(errorHandler, { name: 'error-handler', dependencies: ['authenticate'] })
