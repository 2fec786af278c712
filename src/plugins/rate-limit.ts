import { normalizeIP } from '@fastify/rate-limit'
import LocalStore, { type CounterState, type CounterStore } from '@fastify/rate-limit/store/LocalStore.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { Redis } from 'ioredis'
import type { Config } from '../config.js'
import { ApiError } from '../errors.js'
import { clientIp } from './authenticate.js'
import {
  createLoginThrottle,
  type LoginThrottle,
  memoryAttemptCounter,
  redisAttemptCounter,
} from '../rate-limits/login-throttle.js'
import { createOverrideCache, type OverrideCache } from '../rate-limits/override-cache.js'
import { createRedisCounters } from '../rate-limits/redis-counters.js'
import type { AuthContext } from '../tokens/tokens-service.js'
import { anonymousLimit, type EffectiveLimit, resolveLimit } from '../rate-limits/rate-limits-service.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** Operators' per-user overrides, cached in this instance and invalidated by NOTIFY. */
    overrideCache: OverrideCache
    loginThrottle: LoginThrottle
    /** Counts /v1 requests against their caller's budget (the guard and the 404 handler call it). */
    requestLimiter: RequestLimiter
  }
  interface FastifyRequest {
    /** The caller's limit, resolved once per request by the limiter. */
    rateLimitBudget: EffectiveLimit | null
  }
}

export interface RequestLimiter {
  /**
   * Counts the request against its caller's budget: the user's when `request.auth` is set, else
   * the IP's. Sets API.md's x-ratelimit headers and throws 429 rate_limited, with retry-after,
   * past the budget. Returns a promise only when it has to wait (Redis, an override to load).
   */
  limit(request: FastifyRequest, reply: FastifyReply): Promise<void> | void
  /** `limit` as a preHandler, for routes limited by IP alone (anonymous routes, the 404 handler). */
  preHandler(request: FastifyRequest, reply: FastifyReply): Promise<void>
}

function asLimiter (limit: RequestLimiter['limit']): RequestLimiter {
  return {
    limit,
    async preHandler (request, reply) {
      await limit(request, reply)
    },
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

  if (!options.enabled) {
    app.decorate('requestLimiter', asLimiter(() => {}))
    return
  }
  app.decorateRequest('rateLimitBudget', null)
  app.decorate('requestLimiter', createRequestLimiter({
    settings: config.rateLimit,
    cache,
    store: redis ? createRedisCounters(redis, options.keyPrefix) : new LocalStore(false, false, LOCAL_STORE_KEYS),
  }))
}

interface RequestLimiterOptions {
  settings: Config['rateLimit']
  cache: OverrideCache
  store: CounterStore
}

/**
 * The counters are @fastify/rate-limit's LRU in memory, called directly, or in Redis its
 * RedisStore's INCR + PEXPIRE logic with one turn's increments sent as one script call
 * (rate-limits/redis-counters.ts: a round trip per request cost a third of the throughput).
 * The plugin's own request handler rebuilds `request.routeOptions` and awaits four callbacks on
 * every request, which measured as much as the rest of Tessera's work on an authenticated
 * request (`npm run bench`). Here the memory store's answer stays synchronous, and so does a
 * cached override.
 */
function createRequestLimiter ({ settings, cache, store }: RequestLimiterOptions): RequestLimiter {
  const roleBudgets = {
    user: resolveLimit(settings, 'user', null),
    admin: resolveLimit(settings, 'admin', null),
  } as const
  const anonymousBudget = anonymousLimit(settings)

  const budgetOf = (auth: AuthContext | null): EffectiveLimit | Promise<EffectiveLimit> => {
    if (!auth) return anonymousBudget
    const override = cache.peek(auth.userId)
    if (override === undefined) return cache.get(auth.userId).then((o) => resolveLimit(settings, auth.role, o))
    return override ? resolveLimit(settings, auth.role, override) : roleBudgets[auth.role]
  }

  const answer = (reply: FastifyReply, max: number, state: CounterState | null) => {
    // an unreachable store (Redis down) serves the request: an auth server must not go down with its cache
    if (state === null) return
    const resetSeconds = Math.max(1, Math.ceil(state.ttl / 1000))
    reply.header('x-ratelimit-limit', max)
    reply.header('x-ratelimit-remaining', Math.max(0, max - state.current))
    reply.header('x-ratelimit-reset', resetSeconds)
    if (state.current <= max) return
    throw new ApiError('rate_limited', {
      message: `Too many requests; retry in ${resetSeconds} seconds.`,
      headers: { 'retry-after': String(resetSeconds) },
    })
  }

  const count = (request: FastifyRequest, reply: FastifyReply, budget: EffectiveLimit) => {
    request.rateLimitBudget = budget
    const { max } = budget
    // unlimited callers skip the store entirely
    if (max === null) return
    // one budget per user across all their tokens; anonymous callers and refused tokens share
    // their IP's (TRUST_PROXY decides which; an IPv6 client counts by its /64)
    const key = request.auth ? `user:${request.auth.userId}` : `ip:${normalizeIP(clientIp(request) ?? '')}`
    let counted: CounterState | null | undefined
    let settle: ((state: CounterState | null) => void) | undefined
    store.incr(key, (error, state) => {
      const result = error ? null : state
      if (settle) settle(result)
      else counted = result
    }, budget.windowSeconds * 1000, max)
    if (counted !== undefined) return answer(reply, max, counted)
    return new Promise<CounterState | null>((resolve) => { settle = resolve }).then((state) => answer(reply, max, state))
  }

  return asLimiter((request, reply) => {
    const budget = budgetOf(request.auth)
    if (budget instanceof Promise) return budget.then((b) => count(request, reply, b))
    return count(request, reply, budget)
  })
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['context', 'db'] })
