import type { FastifyInstance, FastifyRequest } from 'fastify'
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
    /** The authenticated caller, set by the auth preHandler on protected routes. */
    auth: AuthContext | null
    /** Why authentication failed; thrown by `authorize` after rate limiting has counted it. */
    authFailure: ApiError | null
    /** The route's `config.auth`, read once (request.routeOptions builds a new object per access). */
    authRequirement: AuthRequirement | undefined
  }
}

// RFC 7235: the auth-scheme is case-insensitive; RFC 6750 section 2.1: b64token after one space
const BEARER = /^bearer ([A-Za-z0-9\-._~+/]+=*)$/i

const REALM = 'Bearer realm="tessera"'
const invalidToken = (code: 'token_invalid' | 'token_expired' | 'token_revoked') =>
  // RFC 6750 section 3: a presented token that is refused gets error="invalid_token"
  new ApiError(code, { headers: { 'www-authenticate': `${REALM}, error="invalid_token"` } })

export function requestInfo (request: FastifyRequest) {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent']?.slice(0, 512) ?? null }
}

export interface AuthenticateOptions {
  now: () => Date
  /** Called after each successful authentication (last-use tracking); must not block. */
  onAuthenticated?: (request: FastifyRequest, auth: AuthContext, lastUsedAt: Date | null) => void
}

/**
 * Identifies the caller of a protected route with one query, but never rejects: a failure
 * is kept on the request so the rate limiter (registered between this plugin and
 * `authorize`) can count refused tokens by IP before `authorize` answers 401.
 */
async function authenticate (app: FastifyInstance, options: AuthenticateOptions) {
  app.decorateRequest('auth', null)
  app.decorateRequest('authFailure', null)
  app.decorateRequest('authRequirement', undefined)

  app.addHook('preHandler', async (request) => {
    request.authRequirement = request.routeOptions.config.auth
    if (request.authRequirement === undefined) return
    const header = request.headers.authorization
    const match = header === undefined ? null : BEARER.exec(header)
    if (!match?.[1]) {
      request.authFailure = new ApiError('token_missing', {
        message:
          header === undefined ? 'A bearer token is required.' : 'The Authorization header is malformed.',
      })
      return
    }
    const result = await verifyToken(app.database, match[1], options.now())
    if (!result.ok) {
      request.authFailure = invalidToken(result.code)
      return
    }
    request.auth = result.auth
    options.onAuthenticated?.(request, result.auth, result.lastUsedAt)
  })
}

/** Enforces each route's requirement: the stored auth failure, then the scope. */
async function authorize (app: FastifyInstance) {
  app.addHook('preHandler', async (request) => {
    const required = request.authRequirement
    if (required === undefined) return
    if (request.authFailure) throw request.authFailure
    if (!request.auth) throw new ApiError('token_missing')
    if (required !== 'any' && !request.auth.scopes.has(required)) {
      throw new ApiError('insufficient_scope', {
        message: `This route needs the ${required} scope.`,
        headers: { 'www-authenticate': `${REALM}, error="insufficient_scope", scope="${required}"` },
      })
    }
  })
}

/** The authenticated caller of a route that declared `config.auth`. */
export function authOf (request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('token_missing')
  return request.auth
}

export const authenticatePlugin = fp(authenticate, { name: 'authenticate', dependencies: ['db'] })
export const authorizePlugin = fp(authorize, { name: 'authorize', dependencies: ['authenticate'] })
