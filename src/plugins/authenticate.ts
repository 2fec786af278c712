import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import type { Scope } from '../tokens/scopes.js'
import { parseToken } from '../tokens/token-format.js'
import {
  type AuthContext,
  checkToken,
  findPresentedToken,
  TOKEN_INVALID,
  type Verification,
} from '../tokens/tokens-service.js'

/** What a route needs, declared in one line: `config: { auth: 'profile:read' }`. */
export type AuthRequirement = 'any' | Scope

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

const insufficientScope = (required: Scope) =>
  new ApiError('insufficient_scope', {
    message: `This route needs the ${required} scope.`,
    headers: { 'www-authenticate': `${REALM}, error="insufficient_scope", scope="${required}"` },
  })

export function requestInfo (request: FastifyRequest) {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent']?.slice(0, 512) ?? null }
}

export interface AuthenticateOptions {
  now: () => Date
  /** Called after each successful authentication (last-use tracking), at `now`; must not block. */
  onAuthenticated?: (request: FastifyRequest, auth: AuthContext, now: Date) => void
}

// only the API is limited: health checks and the docs are never refused
const isLimitedRoute = (url: string) => url.startsWith('/v1/')

type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

function prependPreHandler (route: RouteOptions, hook: PreHandler) {
  const own = route.preHandler
  route.preHandler = own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])]
}

/**
 * The guard: one preHandler, attached at registration to each route that declares
 * `config.auth`, that identifies the caller with one query, counts the request against the
 * caller's rate-limit budget, then refuses or lets it through. A refused token is counted
 * against the IP before the 401, so guessing tokens ends in 429 (API.md, Rate limits).
 * Other /v1 routes (and the 404 handler, see error-handler.ts) get the limiter alone, by IP.
 */
async function authenticate (app: FastifyInstance, options: AuthenticateOptions) {
  app.decorateRequest('auth', null)
  const { requestLimiter } = app

  const tokenMissing = (header: string | undefined) =>
    new ApiError('token_missing', {
      message: header === undefined ? 'A bearer token is required.' : 'The Authorization header is malformed.',
    })

  const guardFor = (required: AuthRequirement): PreHandler =>
    async function guard (request, reply) {
      const header = request.headers.authorization
      const presented = header !== undefined && BEARER.test(header) ? header.slice(SCHEME_LENGTH) : undefined
      // verifyToken's steps, with the query awaited here: one async frame fewer per request
      // (about 5% of the server's CPU per authenticated request, measured with `npm run bench`)
      const parsed = presented === undefined ? null : parseToken(presented)
      const now = options.now()
      let result: Verification | null = presented === undefined ? null : TOKEN_INVALID
      if (parsed !== null && parsed.kind !== 'mail') {
        const [token] = await findPresentedToken(app.database, parsed.kind, parsed.digest)
        result = checkToken(token, parsed.kind, now)
      }
      if (result?.ok !== true) {
        // counted against the IP before the refusal: guessing tokens ends in 429
        await requestLimiter.limit(request, reply)
        throw result ? invalidToken(result.code) : tokenMissing(header)
      }
      request.auth = result.auth
      options.onAuthenticated?.(request, result.auth, now)
      // the limiter answers synchronously unless it must wait (Redis): no await on the hot path
      const limited = requestLimiter.limit(request, reply)
      if (limited) await limited
      if (required !== 'any' && !result.auth.scopes.has(required)) throw insufficientScope(required)
    }

  app.addHook('onRoute', (route) => {
    const required = route.config?.auth
    if (required !== undefined) prependPreHandler(route, guardFor(required))
    else if (isLimitedRoute(route.url)) prependPreHandler(route, requestLimiter.preHandler)
  })
}

/** The authenticated caller of a route that declared `config.auth`. */
export function authOf (request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('token_missing')
  return request.auth
}

export const authenticatePlugin = fp(authenticate, { name: 'authenticate', dependencies: ['db', 'rate-limit'] })
