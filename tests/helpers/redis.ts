import { Redis } from 'ioredis'
import { inject } from 'vitest'

/**
 * Where the tests look for a Redis. REDIS_URL set means "this Redis is required" (CI sets it):
 * if it does not answer, the run fails. Unset, the tests try TEST_REDIS_PROBE_URL (default the
 * usual local port) and skip what needs Redis when nothing answers there, so that `npm test`
 * passes on a machine with PostgreSQL only.
 */
export function redisTarget (env: NodeJS.ProcessEnv = process.env) {
  if (env.REDIS_URL) return { url: env.REDIS_URL, required: true }
  return { url: env.TEST_REDIS_PROBE_URL || 'redis://127.0.0.1:6379', required: false }
}

/** The URL with any password masked, fit for a log line. */
export function displayUrl (url: string) {
  const parsed = new URL(url)
  if (parsed.password) parsed.password = '***'
  return parsed.toString()
}

/** Whether a Redis answers PING at `url` within `timeoutMs`; one attempt, no retries. */
export async function redisAnswers (url: string, timeoutMs = 1_000): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return (await redis.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

/**
 * The Redis the run uses, probed once by tests/global-setup.ts: its URL, or null when none
 * answered (and none was required). Read in a test file only.
 */
export function testRedisUrl (): string | null {
  return inject('redisUrl')
}
