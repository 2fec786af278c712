import sensible from '@fastify/sensible'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Ajv } from 'ajv'
import addFormats from 'ajv-formats'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import type pino from 'pino'
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
import scopesPlugin from './plugins/scopes.js'
import docs from './plugins/docs.js'
import errorHandler, { sendError, toApiError } from './plugins/error-handler.js'
import gracefulClose from './plugins/graceful-close.js'
import mailer, { type MailerOptions } from './plugins/mailer.js'
import requestDeadline, { clientErrorHandler, nodeDeadlineOptions } from './plugins/request-deadline.js'
import rateLimitPlugin, { DEFAULT_KEY_PREFIX, type RateLimitPluginOptions } from './rate-limits/rate-limit-plugin.js'
import { rateLimitsRoutes } from './rate-limits/rate-limits-routes.js'
import { ErrorSchema } from './schemas.js'
import { createLastUsedRecorder } from './tokens/last-used.js'
import { forwardAuthRoutes } from './protect/forward-auth-routes.js'
import { introspectionRoutes } from './protect/introspection-routes.js'
import { scopesRoutes } from './tokens/scopes-routes.js'
import { tokensRoutes } from './tokens/tokens-routes.js'
import { TokenSchema } from './tokens/tokens-schemas.js'
import { usersRoutes } from './users/users-routes.js'
import { UserSchema } from './users/users-schemas.js'
import webRoutes from './web/web-routes.js'

export interface BuildAppOptions {
  config: Config
  database: Database
  /** Close the database pool with the app (default true). */
  ownsDatabase?: boolean
  logger?: FastifyServerOptions['loggerInstance'] | FastifyServerOptions['logger']
  now?: () => Date
  /**
   * Request rate limiting: on by default (Redis store when REDIS_URL is set); `enabled: false`
   * for benchmarks. `keyPrefix` separates the Redis counters of apps that must not share them.
   */
  rateLimit?: Partial<RateLimitPluginOptions>
  /** The request deadline (default REQUEST_DEADLINE_MS); tests shorten it. */
  requestDeadlineMs?: number
  /** Mail delivery: on commit by default; `deliverOnCommit: false` for tests that read tokens from the outbox. */
  mail?: MailerOptions
}

/** Longer than any legitimate request (an argon2 login is ~10 ms), short enough not to hang. */
export const REQUEST_DEADLINE_MS = 5_000

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
 * fastify's own hop count trusts no one (5.12 fails closed on a number), so hops are a trust
 * function: the socket's peer and the next hops-1 X-Forwarded-For entries, from the right, are
 * proxies. A list is compiled by fastify (proxy-addr): an entry is trusted only if it is one.
 */
function trustProxyOption (trust: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust
  return trust === false ? false : [...trust]
}

export async function buildApp (options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, database } = options
  const now = options.now ?? (() => new Date())
  const requestDeadlineMs = options.requestDeadlineMs ?? REQUEST_DEADLINE_MS
  const app = Fastify({
    ...(options.logger && typeof options.logger === 'object' && 'child' in options.logger
      ? { loggerInstance: options.logger }
      : { logger: options.logger ?? false }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: trustProxyOption(config.trustProxy),
    // one access-log line per request is written below, with the caller's ids
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    // the request deadline (see request-deadline.ts): a request must arrive within it (408), and a
    // connection silent that long while its request is handled is answered 503
    connectionTimeout: requestDeadlineMs,
    // fastify sets it on the server after making it, from this option (0 unless given)
    requestTimeout: requestDeadlineMs,
    http: nodeDeadlineOptions(requestDeadlineMs),
    clientErrorHandler,
    // shutdown answers every request it has accepted, with Connection: close (graceful-close.ts)
    return503OnClosing: false,
    forceCloseConnections: false,
    // the router's own refusals (a 10,000-character :id, a malformed %-escape) fail before routing,
    // where the error handler is not called: they would answer in fastify's shape, echoing the URL
    frameworkErrors: (error, _request, reply) => sendError(reply, toApiError(error)),
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.setValidatorCompiler(createValidators())
  // API.md: only JSON bodies; fastify would otherwise accept text/plain
  app.removeContentTypeParser('text/plain')
  app.addSchema(ErrorSchema)
  app.addSchema(UserSchema)
  app.addSchema(TokenSchema)

  const lastUsed = createLastUsedRecorder({
    sql: database.sql,
    now,
    onError: (error) => app.log.warn({ err: error }, 'could not record token last use'),
  })

  await app.register(sensible)
  await app.register(context, { config, now })
  await app.register(dbPlugin, { database, closeOnShutdown: options.ownsDatabase ?? true })
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
  await app.register(requestDeadline, { deadlineMs: requestDeadlineMs })
  await app.register(gracefulClose)
  await app.register(docs)
  await app.register(mailer, options.mail ?? {})
  // flushed before the pool closes (onClose hooks run in reverse registration order)
  app.addHook('onClose', () => lastUsed.close())
  await app.register(cleanupJob)

  // the access log: one line per request, with the reqId and the caller's ids. Below `info`
  // (LOG_LEVEL is read once, at start) there is no line to write, and no hook: a hook costs
  // fastify's hook runner on every request.
  const accessLog = app.log as FastifyInstance['log'] & Partial<Pick<pino.Logger, 'isLevelEnabled'>>
  if (accessLog.isLevelEnabled?.('info') === true) {
    app.addHook('onResponse', (request, reply, done) => {
      accessLog.info(
        {
          reqId: request.id,
          method: request.method,
          path: request.url.split('?')[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
          userId: request.auth?.userId,
          tokenId: request.auth?.tokenId,
        },
        'request'
      )
      done()
    })
  }

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
  return app
}
