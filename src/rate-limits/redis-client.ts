import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'

// how long start-up waits for Redis before serving (unlimited) without it
const REDIS_READY_TIMEOUT_MS = 2_000

/**
 * The rate limits' Redis client, closed with the app. It fails fast while Redis is away (no
 * offline queue, one retry, a command timeout), so requests are served without limits instead
 * of waiting, and keeps reconnecting in the background so limiting resumes by itself. Logs the
 * outage once, not once per request. Start-up waits a moment for it, then goes on without.
 */
export async function connectRedis (app: FastifyInstance, url: string): Promise<Redis> {
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
  if (redis.status === 'ready') return redis
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), REDIS_READY_TIMEOUT_MS)
    redis.once('ready', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  if (!ready) app.log.warn('Redis not ready at start-up; rate limiting starts when it is')
  return redis
}
