import sensible from '@fastify/sensible'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { accountsRoutes } from './accounts/accounts-routes.js'
import { adminRoutes } from './admin/admin-routes.js'
import type { Config } from './config.js'
import type { Database } from './db/client.js'
import { eventsRoutes } from './events/events-routes.js'
import { healthRoutes } from './health/health-routes.js'
import cleanupJob from './maintenance/cleanup-plugin.js'
import { authenticatePlugin, clientIp } from './plugins/authenticate.js'
import context from './plugins/context.js'
import dbPlugin from './plugins/db.js'
import docs from './plugins/docs.js'
import errorHandler from './plugins/error-handler.js'
import mailer, { type Mailer, type MailerOptions } from './plugins/mailer.js'
import scopesPlugin from './plugins/scopes.js'
import { forwardAuthRoutes } from './protect/forward-auth-routes.js'
import { introspectionRoutes } from './protect/introspection-routes.js'
import rateLimitPlugin, { DEFAULT_KEY_PREFIX, notFoundRoutes, type RateLimitPluginOptions } from './rate-limits/rate-limit-plugin.js'
import { rateLimitsRoutes } from './rate-limits/rate-limits-routes.js'
import { ErrorSchema } from './schemas.js'
import { createLastUsedRecorder } from './tokens/last-used.js'
import { scopesRoutes } from './tokens/scopes-routes.js'
import { tokensRoutes } from './tokens/tokens-routes.js'
import { TokenSchema } from './tokens/tokens-schemas.js'
import { type Verification, verifyToken } from './tokens/tokens-service.js'
import { usersRoutes } from './users/users-routes.js'
import { UserSchema } from './users/users-schemas.js'
import webRoutes from './web/web-routes.js'

/** What a host app reaches of Tessera: `app.tessera`. */
export interface TesseraDecorator {
  /** The guard's verdict on a bearer token (the token alone, without "Bearer "), for code that is not a route. */
  verifyToken(token: string): Promise<Verification>
  /** Tessera's configuration, as validated at start. */
  readonly config: Config
  /** The mail worker: one delivery run now (hosts' tests with MAIL_POLL_INTERVAL_SECONDS=0 use it). */
  readonly mailer: Mailer
}

declare module 'fastify' {
  interface FastifyInstance {
    tessera: TesseraDecorator
  }
}

export interface CoreOptions {
  config: Config
  database: Database
  /** Close the database pool with the app (false when the caller owns it, as tests sharing a pool do). */
  ownsDatabase: boolean
  now?: () => Date
  /** Where Tessera's own routes go (default none: the paths of API.md). */
  prefix?: string
  /**
   * Answer unknown routes in API.md's shape, counted by IP (default: when there is a prefix, under
   * it; the standalone server answers them all). A host app without a prefix keeps its own 404.
   */
  notFound?: boolean
  /**
   * Request rate limiting: on by default (Redis store when REDIS_URL is set); `enabled: false`
   * for benchmarks. `keyPrefix` separates the Redis counters of apps that must not share them.
   */
  rateLimit?: Partial<RateLimitPluginOptions>
  /** Mail delivery: on commit by default; `deliverOnCommit: false` for tests that read tokens from the outbox. */
  mail?: MailerOptions
}

/**
 * Two Ajv instances: bodies are validated strictly (API.md: a number is never a string),
 * while query strings and params are converted as usual.
 */
function createValidators () {
  const make = (coerceTypes: boolean | 'array') => {
    const ajv = new Ajv({
      coerceTypes,
      useDefaults: true,
      // API.md: unknown body properties are ignored, never applied. `true` would strip them only
      // from schemas declaring additionalProperties: false, which typebox's objects do not.
      removeAdditional: 'all',
      allErrors: true,
      strict: false,
    })
    addFormats.default(ajv)
    return ajv
  }
  const strict = make(false)
  const coercing = make('array')
  return ({ schema, httpPart }: { schema: object; httpPart?: string }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema)
}

/**
 * Tessera in the app it is registered in, whether that is its own server (app.ts) or a host's
 * (plugin.ts): one code path. Its routes, validators, error handler and services live in an
 * encapsulated context of their own, so they neither see nor change the host's; the host gets
 * `request.auth`, `app.tessera`, and the guard on every route that declares `config.auth`.
 */
async function tesseraCore (host: FastifyInstance, options: CoreOptions) {
  const { config, database } = options
  const now = options.now ?? (() => new Date())
  const prefix = options.prefix ?? ''
  host.decorateRequest('auth', null)

  let tessera: FastifyInstance | undefined
  await host.register(async function tesseraRoutes (app) {
    tessera = app
    app.setValidatorCompiler(createValidators())
    // API.md: only JSON bodies; fastify would otherwise accept text/plain
    app.removeContentTypeParser('text/plain')
    app.addSchema(ErrorSchema)
    app.addSchema(UserSchema)
    app.addSchema(TokenSchema)
    // BODY_LIMIT_BYTES for Tessera's routes, whatever the host's bodyLimit
    app.addHook('onRoute', (route) => {
      route.bodyLimit ??= config.bodyLimitBytes
    })

    const lastUsed = createLastUsedRecorder({
      sql: database.sql,
      now,
      onError: (error) => app.log.warn({ err: error }, 'could not record token last use'),
    })

    await app.register(sensible)
    await app.register(context, { config, now })
    await app.register(dbPlugin, { database, closeOnShutdown: options.ownsDatabase })
    await app.register(scopesPlugin)
    await app.register(rateLimitPlugin, {
      enabled: options.rateLimit?.enabled ?? true,
      keyPrefix: options.rateLimit?.keyPrefix ?? DEFAULT_KEY_PREFIX,
    })
    await app.register(authenticatePlugin, {
      now,
      onAuthenticated: (request, auth) => lastUsed.record(auth.tokenId, clientIp(request)),
    })
    await app.register(errorHandler)
    await app.register(docs)
    await app.register(mailer, options.mail ?? {})
    // flushed before the pool closes (onClose hooks run in reverse registration order)
    app.addHook('onClose', () => lastUsed.close())
    await app.register(cleanupJob)

    await app.register(healthRoutes)
    await app.register(usersRoutes)
    await app.register(tokensRoutes)
    await app.register(scopesRoutes)
    await app.register(accountsRoutes)
    await app.register(eventsRoutes)
    await app.register(adminRoutes)
    await app.register(rateLimitsRoutes)
    await app.register(introspectionRoutes)
    await app.register(forwardAuthRoutes)
    if (config.webUi) await app.register(webRoutes)
    if (options.notFound ?? prefix !== '') await app.register(notFoundRoutes)
  }, { prefix })

  const routes = tessera as FastifyInstance
  // in the host's context: it reaches every route there and in its children, declared before
  // Tessera or after, Tessera's own included
  host.addHook('preValidation', routes.guardHook)
  const deps = { database, now, scopes: routes.scopes }
  host.decorate('tessera', {
    verifyToken: (token: string) => verifyToken(deps, token),
    config,
    mailer: routes.mailer,
  } satisfies TesseraDecorator)
}

export default fp(tesseraCore, { name: 'tessera', fastify: '5.x' })
