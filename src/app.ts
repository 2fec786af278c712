import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify'
import type pino from 'pino'
import type { Config } from './config.js'
import tesseraCore, { type CoreOptions } from './core.js'
import { renderError, sendError, toApiError } from './plugins/error-handler.js'
import gracefulClose from './plugins/graceful-close.js'
import requestDeadline, { clientErrorHandler, nodeDeadlineOptions } from './plugins/request-deadline.js'

/** Tessera's own server: the core's options, and what belongs to a server of its own. */
export interface BuildAppOptions extends Omit<CoreOptions, 'ownsDatabase' | 'notFound'> {
  /** Close the database pool with the app (default true). */
  ownsDatabase?: boolean
  logger?: FastifyServerOptions['loggerInstance'] | FastifyServerOptions['logger']
  /** The request deadline (default REQUEST_DEADLINE_MS); tests shorten it. */
  requestDeadlineMs?: number
}

/** Longer than any legitimate request (an argon2 login is ~10 ms), short enough not to hang. */
export const REQUEST_DEADLINE_MS = 5_000

/**
 * fastify's own hop count trusts no one (5.12 fails closed on a number), so hops are a trust
 * function: the socket's peer and the next hops-1 X-Forwarded-For entries, from the right, are
 * proxies. A list is compiled by fastify (proxy-addr): an entry is trusted only if it is one.
 */
function trustProxyOption (trust: Config['trustProxy']): FastifyServerOptions['trustProxy'] {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust
  return trust === false ? false : [...trust]
}

/**
 * Tessera as its own server: the server-wide settings (trusted proxies, the request deadline,
 * graceful close, the access log) around the same core a host app registers (core.ts).
 */
export async function buildApp (options: BuildAppOptions): Promise<FastifyInstance> {
  const { config, logger, ownsDatabase, requestDeadlineMs = REQUEST_DEADLINE_MS, ...core } = options
  const app = Fastify({
    ...(logger && typeof logger === 'object' && 'child' in logger ? { loggerInstance: logger } : { logger: logger ?? false }),
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

  // Tessera's own server answers in API.md's shape everywhere, not only on Tessera's routes
  app.setErrorHandler(renderError)
  await app.register(requestDeadline, { deadlineMs: requestDeadlineMs })
  await app.register(gracefulClose)

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

  await app.register(tesseraCore, { ...core, config, ownsDatabase: ownsDatabase ?? true, notFound: true })
  return app
}
