import { isIP } from 'node:net'
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
  interface FastifyInstance {
    /**
     * The route's guard, for a request whose body was refused before the guard could run (not
     * JSON, unparseable, too large): the caller is still identified and counted first.
     */
    guardBeforeBodyError(request: FastifyRequest, reply: FastifyReply): Promise<void>
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

/**
 * API.md: every /v1 response is kept out of caches (they carry tokens and personal data) and is
 * not content-sniffed. Set by the guard and the anonymous limiter, which run on every /v1 route
 * anyway, and by sendError: two header writes, not an onSend hook on every request.
 */
export function setApiHeaders (reply: FastifyReply) {
  reply.header('cache-control', 'no-store')
  reply.header('x-content-type-options', 'nosniff')
}

export interface AuthenticateOptions {
  now: () => Date
  /** Called after each successful authentication (last-use tracking), at `now`; must not block. */
  onAuthenticated?: (request: FastifyRequest, auth: AuthContext, now: Date) => void
}

// only the API is limited: health checks and the docs are never refused
const isLimitedRoute = (url: string) => url.startsWith('/v1/')

type Hook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

function prependHook (route: RouteOptions, name: 'onRequest' | 'preHandler', hook: Hook) {
  const own = route[name] as Hook | Hook[] | undefined
  route[name] = own === undefined ? [hook] : [hook, ...(Array.isArray(own) ? own : [own])]
}

/**
 * The guard: one preHandler, attached at registration to each route that declares
 * `config.auth`, that identifies the caller with one query, counts the request against the
 * caller's rate-limit budget, then refuses or lets it through. A refused token is counted
 * against the IP before the 401, so guessing tokens ends in 429 (API.md, Rate limits).
 *
 * API.md: the token is checked before the body. Guarded routes validate with attachValidation,
 * so the guard runs first and raises the validation error itself, once the caller is known and
 * counted: without a valid token the answer is 401 whatever the body holds, and an invalid body
 * still spends budget. Other /v1 routes (anonymous) are counted by IP in onRequest, before the
 * body is read, so a flood of malformed, non-JSON or unparseable bodies is limited too; the 404
 * handler is limited in error-handler.ts.
 */
async function authenticate (app: FastifyInstance, options: AuthenticateOptions) {
  app.decorateRequest('auth', null)
  const { requestLimiter } = app

  const tokenMissing = (header: string | undefined) =>
    new ApiError('token_missing', {
      message: header === undefined ? 'A bearer token is required.' : 'The Authorization header is malformed.',
    })

  const guardFor = (required: AuthRequirement, apiRoute: boolean): Hook =>
    async function guard (request, reply) {
      if (apiRoute) setApiHeaders(reply)
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
      // attached by fastify (attachValidation): raised only now that the caller is known and counted
      if (request.validationError) throw request.validationError
    }

  async function anonymous (request: FastifyRequest, reply: FastifyReply) {
    setApiHeaders(reply)
    await requestLimiter.limit(request, reply)
  }

  // the error path only: a guard made per call costs the hot path nothing
  app.decorate('guardBeforeBodyError', async (request: FastifyRequest, reply: FastifyReply) => {
    const required = request.routeOptions.config.auth
    if (required !== undefined) await guardFor(required, isLimitedRoute(request.url))(request, reply)
  })

  app.addHook('onRoute', (route) => {
    const required = route.config?.auth
    if (required !== undefined) {
      const guard = guardFor(required, isLimitedRoute(route.url))
      prependHook(route, 'preHandler', guard)
      route.attachValidation = true
    } else if (isLimitedRoute(route.url)) {
      prependHook(route, 'onRequest', anonymous)
    }
  })
}

/** The authenticated caller of a route that declared `config.auth`. */
export function authOf (request: FastifyRequest): AuthContext {
  if (!request.auth) throw new ApiError('token_missing')
  return request.auth
}

export const authenticatePlugin = fp(authenticate, { name: 'authenticate', dependencies: ['db', 'rate-limit'] })
