/**
 * What Tessera's plugins decorate its own encapsulated context with (core.ts). Declared here, in
 * a file the package build does not emit, so that a host app's FastifyInstance type gains only
 * the public `tessera` and `request.auth` (core.ts, plugins/authenticate.ts), and none of these
 * names (`config` is @fastify/env's, for one).
 */
import type { FastifyReply } from 'fastify'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import type { Mailer } from './plugins/mailer.js'
import type { LoginThrottle } from './rate-limits/login-throttle.js'
import type { OverrideCache } from './rate-limits/override-cache.js'
import type { EffectiveLimit } from './rate-limits/rate-limits-service.js'
import type { ScopeCatalog } from './tokens/scopes.js'
import type { PasswordHasher } from './users/passwords.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    /** The clock: passed in so tests control time. */
    now: () => Date
    passwords: PasswordHasher
    database: Database
    /** The built-in and declared scopes, as this start recorded them. */
    scopes: ScopeCatalog
    mailer: Mailer
    /** Operators' per-user overrides, cached in this instance and invalidated by NOTIFY. */
    overrideCache: OverrideCache
    loginThrottle: LoginThrottle
    /**
     * Counts an API request against its caller's budget and sets API.md's /v1 headers. Unguarded
     * /v1 routes are counted in onRequest, before the body; guarded ones by their guard, once it
     * knows the caller (plugins/authenticate.ts).
     */
    countRequest(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** The guard of the request's route, for a request whose body was refused before it ran. */
    guard(request: FastifyRequest, reply: FastifyReply): Promise<void>
    /** The preValidation hook guarding every route that declares `config.auth`. */
    guardHook(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>
  }
  interface FastifyRequest {
    /** The caller's limit, resolved once per request by the limiter. */
    rateLimitBudget: EffectiveLimit | null
  }
}
