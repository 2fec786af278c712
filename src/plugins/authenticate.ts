import { isIP } from 'node:net'
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import type { Scope } from '../tokens/scopes.js'
import { type AuthContext, verifyToken } from '../tokens/tokens-service.js'

/** What a route needs, declared in one line: `config: { auth: 'profile:read' }`. */
export type AuthRequirement = 'any' | Scope

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthRequirement
  }
  interface FastifyRequest {
    /** The authenticated caller, set by the guard on protected routes. */
    auth: AuthContext | null
    /** Why the guard refuses the caller (null: it does not), raised before the body is read. */
    authRefusal: ApiError | null
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

type Hook = (request: FastifyRequest) => Promise<void>

function prependHook (route: RouteOptions, name: 'onRequest' | 'preParsing', hook: Hook) {
  const own = route[name] as Hook | Hook[] | undefined
  route[name] = (own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])]) as never
}

/**
 * The guard of each route that declares `config.auth`, in two steps, both before the body is
 * read (API.md: without a valid token the answer is 401 whatever the body holds):
 * `identify` (onRequest) verifies the token with one query and sets `request.auth`; the rate
 * limiter's onRequest hook counts the caller next, so a refused token spends its IP's budget and
 * guessing ends in 429 (see rate-limits/rate-limit-plugin.ts); `refuse` (preParsing) then
 * answers 401 or 403.
 */
async function authenticate (app: FastifyInstance, options: AuthenticateOptions) {
  app.decorateRequest('auth', null)
  app.decorateRequest('authRefusal', null)
  const deps = { database: app.database, now: options.now }

  async function identify (request: FastifyRequest) {
    const header = request.headers.authorization
    if (header === undefined || !BEARER.test(header)) {
      request.authRefusal = tokenMissing(header)
      return
    }
    const result = await verifyToken(deps, header.slice(SCHEME_LENGTH))
    if (!result.ok) {
      request.authRefusal = invalidToken(result.code)
      return
    }
    request.auth = result.auth
    options.onAuthenticated?.(request, result.auth)
  }

  const refuseFor = (required: AuthRequirement): Hook => async function refuse (request) {
    if (request.authRefusal) throw request.authRefusal
    if (required !== 'any' && !authOf(request).scopes.has(required)) throw insufficientScope(required)
  }

  app.addHook('onRoute', (route) => {
    const required = route.config?.auth
    if (required === undefined) return
    prependHook(route, 'onRequest', identify)
    prependHook(route, 'preParsing', refuseFor(required))
  })
}

/** The authenticated caller of a route that declared `config.auth`. */
export function authOf (request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('token_missing')
  return request.auth
}

export const authenticatePlugin = fp(authenticate, { name: 'authenticate', dependencies: ['db'] })
