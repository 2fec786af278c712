import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import { ApiError } from '../errors.js'
import {
  createLoginThrottle,
  type LoginThrottle,
  memoryAttemptCounter,
  redisAttemptCounter,
} from '../rate-limits/login-throttle.js'
import { createOverrideCache, type OverrideCache } from '../rate-limits/override-cache.js'
import { anonymousLimit, type EffectiveLimit, resolveLimit } from '../rate-limits/rate-limits-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Operators' per-user overrides, cached in this instance and invalidated by NOTIFY. */
    overrideCache: OverrideCache
    loginThrottle: LoginThrottle
  }
  interface FastifyRequest {
    /** The caller's limit, resolved once per request by the limiter. */
    rateLimitBudget: EffectiveLimit | null
  }
}

export interface RateLimitPluginOptions {
  /** false: no request limiting at all (benchmarks); login throttling stays on. */
  enabled: boolean
  /** Prefix of every Redis key; instances sharing counters must share it. */
  keyPrefix: string
}

export const DEFAULT_KEY_PREFIX = 'tessera:rl:'
// counters kept per instance without Redis; past it the least recently used are forgotten
const LOCAL_STORE_KEYS = 100_000
// how long start-up waits for Redis before serving (unlimited) without it
const REDIS_READY_TIMEOUT_MS = 2_000

/**
 * A Redis client that fails fast while Redis is away (no offline queue, one retry, a command
 * timeout), so requests are served without limits instead of waiting, and keeps reconnecting
 * in the background so limiting resumes by itself. Logs the outage once, not once per request.
 */
function createRedis (app: FastifyInstance, url: string): Redis {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  })
  let down = false
  let closing = false
  const lost = (error?: unknown) => {
    if (down || closing) return
    down = true
    app.log.warn({ err: error }, 'Redis unreachable: serving requests without rate limits until it returns')
  }
  redis.on('error', lost)
  redis.on('close', () => lost())
  redis.on('ready', () => {
    if (!down) return
    down = false
    app.log.info('Redis reachable again: rate limiting resumed')
  })
  app.addHook('onClose', async () => {
    closing = true
    redis.disconnect()
  })
  return redis
}

async function waitForRedis (app: FastifyInstance, redis: Redis) {
  if (redis.status === 'ready') return
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REDIS_READY_TIMEOUT_MS)
    redis.once('ready', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  if (!ready) app.log.warn('Redis not ready at start-up; rate limiting starts when it is')
}

// only the API is limited: health checks and the docs are never refused
const isLimited = (request: FastifyRequest) => {
  const route = request.routeOptions.url
  // undefined: no route matched (the 404 handler), limited too so that scanning costs budget
  return route === undefined || route.startsWith('/v1/')
}

async function rateLimitPlugin (app: FastifyInstance, options: RateLimitPluginOptions) {
  const { config } = app
  const redis = config.redisUrl ? createRedis(app, config.redisUrl) : null
  if (redis) await waitForRedis(app, redis)

  const cache = createOverrideCache({
    sql: app.database.sql,
    now: app.now,
    onError: (error) => app.log.warn({ err: error }, 'rate-limit override listener'),
  })
  await cache.start()
  app.addHook('onClose', () => cache.close())
  app.decorate('overrideCache', cache)

  const { maxFailures, failureWindowSeconds } = config.login
  const counter = redis
    ? redisAttemptCounter(redis, `${options.keyPrefix}login:`, failureWindowSeconds)
    : memoryAttemptCounter(app.now, failureWindowSeconds)
  app.decorate(
    'loginThrottle',
    createLoginThrottle(counter, { maxFailures, failureWindowSeconds }, (error) =>
      app.log.debug({ err: error }, 'login throttle store unavailable')
    )
  )

  if (!options.enabled) return
  app.decorateRequest('rateLimitBudget', null)

  const budgetOf = async (request: FastifyRequest): Promise<EffectiveLimit> => {
    if (request.rateLimitBudget) return request.rateLimitBudget
    const { auth } = request
    const budget = auth
      ? resolveLimit(config.rateLimit, auth.role, await cache.get(auth.userId))
      : anonymousLimit(config.rateLimit)
    request.rateLimitBudget = budget
    return budget
  }

  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    skipOnError: true,
    ...(redis ? { redis, nameSpace: options.keyPrefix } : { cache: LOCAL_STORE_KEYS }),
    // after authentication: one budget per user across all their tokens; anonymous requests
    // and refused tokens share their IP's (TRUST_PROXY decides what request.ip is)
    keyGenerator: (request) => (request.auth ? `user:${request.auth.userId}` : `ip:${request.ip}`),
    // unlimited callers skip the store entirely
    allowList: async (request) => (await budgetOf(request)).max === null,
    max: async (request) => (await budgetOf(request)).max ?? 0,
    timeWindow: async (request) => (await budgetOf(request)).windowSeconds * 1000,
    // thrown into the error handler: API.md's shape, with retry-after
    errorResponseBuilder: (_request, context) =>
      new ApiError('rate_limited', {
        message: `Too many requests; retry in ${context.after}.`,
        headers: { 'retry-after': String(Math.ceil(context.ttl / 1000)) },
      }),
  })

  const limiter = app.rateLimit()
  // a global hook, so it also covers the 404 handler (whose context copies the root's hooks)
  app.addHook('preHandler', async function limit (request, reply) {
    if (!isLimited(request)) return
    await limiter.call(this, request, reply)
  })
}

/** Registered between authenticate (which identifies the caller) and authorize (which refuses). */
export default fp(rateLimitPlugin, {
  name: 'rate-limit',
  dependencies: ['context', 'db', 'authenticate'],
})
