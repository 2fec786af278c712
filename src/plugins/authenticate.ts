import { isIP } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { renderError } from './error-handler.js'
import type { Scope } from '../tokens/scopes.js'
import { type AuthContext, verifyToken } from '../tokens/tokens-service.js'

/**
 * What a route needs, declared in one line: `config: { auth: 'profile:read' }`, or chosen per
 * request (forward authentication reads it from the proxy's request).
 */
export type AuthRequirement = 'any' | Scope | ((request: FastifyRequest) => 'any' | Scope)

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the guard on protected routes. */
    auth: AuthContext | null
  }
}

// RFC 7235: the auth-scheme is case-insensitive; RFC 6750 section 2.1: b64token after one space
// (tested, not matched: the token is what follows the 7 characters of "bearer ")
const BEARER = /^bearer [A-Za-z0-9\-._~+/]+=*$/i
const SCHEME_LENGTH = 'bearer '.length

const REALM = 'Bearer realm="tessera"'
const invalidToken = (code: 'token_invalid' | 'token_expired' | 'token_revoked') =>
  // RFC 6750 section 3: a presented token that is refused gets error="invalid_token"
  new ApiError(code, { headers: { 'www-authenticate': `${REALM}, error="invalid_token"` } })

const tokenMissing = (header: string | undefined) =>
  new ApiError('token_missing', {
    message: header === undefined ? 'A bearer token is required.' : 'The Authorization header is malformed.',
  })

const insufficientScope = (required: Scope) =>
  new ApiError('insufficient_scope', {
    message: `This route needs the ${required} scope.`,
    headers: { 'www-authenticate': `${REALM}, error="insufficient_scope", scope="${required}"` },
  })

/**
 * The client's address: request.ip as TRUST_PROXY chose it from X-Forwarded-For, or the socket's
 * when that entry is not an IP address (API.md: a non-IP value is ignored and never stored).
 */
export function clientIp (request: FastifyRequest): string | null {
  const ip = request.ip
  if (ip !== undefined && isIP(ip) !== 0) return ip
  return request.socket?.remoteAddress ?? null
}

export function requestInfo (request: FastifyRequest) {
  return { ip: clientIp(request), userAgent: request.headers['user-agent']?.slice(0, 512) ?? null }
}

export interface AuthenticateOptions {
  now: () => Date
  /** Called after each successful authentication (last-use tracking); must not block. */
  onAuthenticated?: (request: FastifyRequest, auth: AuthContext) => void
}

/**
 * The guard: verifies the token with one query, has the caller counted (the user, or the IP for
 * a refused token, so guessing ends in 429), then refuses or lets the request through. It runs
 * as a preValidation hook, so that API.md's order holds: the token is checked before the body is
 * validated (a body refused earlier still, while parsing, is sent through the guard by the error
 * handler).
 */
async function authenticate (app: FastifyInstance, options: AuthenticateOptions) {
  const deps = { database: app.database, now: options.now, scopes: app.scopes }

  async function guard (request: FastifyRequest, reply: FastifyReply, required: AuthRequirement) {
    const header = request.headers.authorization
    const verdict = header !== undefined && BEARER.test(header) ? await verifyToken(deps, header.slice(SCHEME_LENGTH)) : null
    if (verdict?.ok === true) {
      request.auth = verdict.auth
      options.onAuthenticated?.(request, verdict.auth)
    }
    // counted before any refusal: a refused token spends its IP's budget, so guessing ends in 429
    await app.countRequest(request, reply)
    if (verdict === null) throw tokenMissing(header)
    if (!verdict.ok) throw invalidToken(verdict.code)
    const needed = typeof required === 'function' ? required(request) : required
    if (needed !== 'any' && !verdict.auth.scopes.has(needed)) throw insufficientScope(needed)
  }

  app.decorate('guard', (request: FastifyRequest, reply: FastifyReply) =>
    guard(request, reply, request.routeOptions.config.auth ?? 'any'))

  // the host app's hook (core.ts adds it where Tessera is registered, so that it reaches every
  // route there, declared before or after): it renders its own refusals, since a host route's
  // error handler is the host's, and API.md's answers must not depend on it
  app.decorate('guardHook', async function guardHook (request: FastifyRequest, reply: FastifyReply) {
    const required = request.routeOptions.config.auth
    if (required === undefined) return
    try {
      await guard(request, reply, required)
    } catch (error) {
      return renderError(error, request, reply)
    }
  })
}

/** The authenticated caller of a route that declared `config.auth`. */
export function authOf (request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('token_missing')
  return request.auth
}

export const authenticatePlugin = fp(authenticate, { name: 'authenticate', dependencies: ['db', 'rate-limit', 'scopes'] })
