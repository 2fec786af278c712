import { normalizeIP } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { clientIp } from '../plugins/authenticate.js'
import { notFound, setApiHeaders } from '../plugins/error-handler.js'
import type { TokenBudget } from '../tokens/tokens-schemas.js'
import { type Counter, type CounterStore, createMemoryCounters, secondsLeft } from './counters.js'
import { createLoginThrottle } from './login-throttle.js'
import { createOverrideCache, type OverrideCache } from './override-cache.js'
import { anonymousLimit, type EffectiveLimit, type RateLimitSettings, resolveLimit } from './rate-limits-service.js'
import { connectRedis } from './redis-client.js'
import { createRedisCounters } from './redis-counters.js'

export interface RateLimitPluginOptions {
  /** false: no request limiting at all (benchmarks); login throttling stays on. */
  enabled: boolean
  /** Prefix of every Redis key; instances sharing counters must share it. */
  keyPrefix: string
}

export const DEFAULT_KEY_PREFIX = 'tessera:rl:'
// counters kept per instance without Redis; past it the least recently used are forgotten
const MEMORY_KEYS = 100_000

type Limit = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

const userKey = (userId: string) => `user:${userId}`

/** One budget's count for this request. */
interface Counted {
  max: number
  counter: Counter
}

const remaining = (counted: Counted) => Math.max(0, counted.max - counted.counter.current)
const spent = (counted: Counted) => counted.counter.current > counted.max

/** The budget to show: fewer remaining; on a tie, the one that resets later (it binds longer). */
function tighter (a: Counted, b: Counted): Counted {
  if (remaining(a) !== remaining(b)) return remaining(a) < remaining(b) ? a : b
  return a.counter.ttlMs >= b.counter.ttlMs ? a : b
}

/** Sets the x-ratelimit headers from the budget shown; throws 429 rate_limited, with retry-after, when one is spent. */
function answer (reply: FastifyReply, shown: Counted, refused: boolean) {
  const resetSeconds = secondsLeft(shown.counter)
  reply.header('x-ratelimit-limit', shown.max)
  reply.header('x-ratelimit-remaining', remaining(shown))
  reply.header('x-ratelimit-reset', resetSeconds)
  if (!refused) return
  throw new ApiError('rate_limited', {
    message: `Too many requests; retry in ${resetSeconds} seconds.`,
    headers: { 'retry-after': String(resetSeconds) },
  })
}

/**
 * A token with a budget of its own (API.md, POST /v1/me/tokens) spends it and its user's budget
 * (none if the user is unlimited: the leash is the tool's). Both counts start in one turn, so the
 * Redis store sends them in one script call.
 */
async function countWithTokenBudget (
  counters: CounterStore,
  reply: FastifyReply,
  userCounterKey: string,
  user: EffectiveLimit,
  tokenId: string,
  token: TokenBudget
) {
  const count = (key: string, max: number, windowSeconds: number) =>
    counters.incr(key, windowSeconds * 1000).then((counter): Counted => ({ max, counter }))
  const counting = [count(`token:${tokenId}`, token.max, token.windowSeconds)]
  if (user.max !== null) counting.push(count(userCounterKey, user.max, user.windowSeconds))
  let counted: Counted[]
  try {
    counted = await Promise.all(counting)
  } catch {
    // as for the user's budget alone: an unreachable store serves the request
    return
  }
  answer(reply, counted.reduce(tighter), counted.some(spent))
}

/**
 * Counts a request against its caller's budget (API.md, Rate limits): the user's when the guard
 * has set `request.auth`, else the IP's, so that a refused token spends its IP's budget; and a
 * token's own budget as well, when it has one. Sets the x-ratelimit headers and throws 429
 * rate_limited, with retry-after, past either budget.
 */
function createRequestLimiter (settings: RateLimitSettings, cache: OverrideCache, counters: CounterStore | null): Limit {
  const anonymous = anonymousLimit(settings)
  return async function countRequest (request, reply) {
    // API.md: every /v1 response is kept out of caches (they carry tokens and personal data) and
    // is not content-sniffed; set here, where every /v1 request passes, rather than in an onSend
    // hook on every request (sendError sets them on errors)
    setApiHeaders(reply)
    // request limiting off (benchmarks)
    if (counters === null) return
    const { auth } = request
    const budget = auth ? resolveLimit(settings, auth.role, await cache.get(auth.userId)) : anonymous
    request.rateLimitBudget = budget
    if (auth?.tokenBudget) {
      return countWithTokenBudget(counters, reply, userKey(auth.userId), budget, auth.tokenId, auth.tokenBudget)
    }
    // unlimited callers skip the store entirely
    if (budget.max === null) return
    // one budget per user across all their tokens; anonymous callers and refused tokens share
    // their IP's (TRUST_PROXY decides which; an IPv6 client counts by its /64)
    const key = auth ? userKey(auth.userId) : `ip:${normalizeIP(clientIp(request) ?? '')}`
    let counter
    try {
      counter = await counters.incr(key, budget.windowSeconds * 1000)
    } catch {
      // an unreachable store (Redis down) serves the request: an auth server must not go down with its cache
      return
    }
    const counted = { max: budget.max, counter }
    answer(reply, counted, spent(counted))
  }
}

function appendHook (route: RouteOptions, name: 'onRequest', hook: Limit) {
  const own = route[name] as Limit | Limit[] | undefined
  route[name] = (own === undefined ? [hook] : [...(Array.isArray(own) ? own : [own]), hook]) as never
}

/**
 * Rate limiting, one feature: the counters (Redis when REDIS_URL is set, else this instance's
 * memory), the override cache, the login throttle, and which requests are counted: every /v1
 * route and the 404 handler (`notFoundRoutes`), in onRequest, before the body is read, so that malformed,
 * unparseable or invalid bodies spend budget too; a guarded route (any path) in its guard, which
 * calls `countRequest` once it knows the caller. Health checks and the docs are never limited.
 */
async function rateLimitPlugin (app: FastifyInstance, options: RateLimitPluginOptions) {
  const { config } = app
  const redis = config.redisUrl ? await connectRedis(app, config.redisUrl) : null
  const counters = (prefix: string) =>
    redis ? createRedisCounters(redis, options.keyPrefix + prefix) : createMemoryCounters(() => app.now().getTime(), MEMORY_KEYS)

  const cache = createOverrideCache({
    sql: app.database.sql,
    now: app.now,
    onError: (error) => app.log.warn({ err: error }, 'rate-limit override listener'),
  })
  await cache.start()
  app.addHook('onClose', () => cache.close())
  app.decorate('overrideCache', cache)
  app.decorate('loginThrottle', createLoginThrottle(counters('login:'), config.login, (error) =>
    app.log.debug({ err: error }, 'login throttle store unavailable')
  ))

  app.decorateRequest('rateLimitBudget', null)
  const countRequest = createRequestLimiter(config.rateLimit, cache, options.enabled ? counters('') : null)
  app.decorate('countRequest', countRequest)
  // Tessera's own unguarded /v1 routes (this plugin is registered in their context, so a host
  // app's routes never reach this hook), under Tessera's prefix when it has one
  app.addHook('onRoute', (route) => {
    const path = route.url.slice(route.prefix.length)
    if (path.startsWith('/v1/') && route.config?.auth === undefined) appendHook(route, 'onRequest', countRequest)
  })
}

/**
 * Unknown routes answered in API.md's shape and limited by IP like the API, so that scanning
 * costs budget: the hook is the 404 handler's alone (this encapsulated context has nothing else).
 */
export async function notFoundRoutes (app: FastifyInstance) {
  app.addHook('onRequest', app.countRequest)
  app.setNotFoundHandler(notFound)
}

export default fp(rateLimitPlugin, { name: 'rate-limit', dependencies: ['context', 'db'] })
