import type { Redis } from 'ioredis'
import type { Counter, CounterStore } from './counters.js'

// For each key, ARGV holds a step and a window. A count (step 1) is @fastify/rate-limit's
// RedisStore script: INCR; the first count of a window sets its expiry, the others read what
// is left of it; a counter found without an expiry (a hand-made key) gets one, so that it cannot
// refuse for ever. An uncount (step -1) touches a running window only: DECR on an expired key
// would make a count with no expiry.
const COUNT_MANY = `
local out = {}
for i, key in ipairs(KEYS) do
  local step = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local current, ttl = 0, 0
  if step > 0 then
    current = redis.call('INCR', key)
    ttl = window
    if current == 1 then
      redis.call('PEXPIRE', key, window)
    else
      ttl = redis.call('PTTL', key)
      if ttl < 0 then
        redis.call('PEXPIRE', key, window)
        ttl = window
      end
    end
  elseif redis.call('EXISTS', key) == 1 then
    current = redis.call('DECR', key)
    ttl = redis.call('PTTL', key)
  end
  out[2 * i - 1] = current
  out[2 * i] = ttl
end
return out`

// keys per script call: a burst larger than this is sent as several calls
const MAX_BATCH = 512

interface Pending {
  key: string
  step: 1 | -1
  windowMs: number
  resolve: (counter: Counter) => void
  reject: (error: unknown) => void
}
type CountMany = (numberOfKeys: number, ...args: Array<string | number>) => Promise<number[]>

/**
 * Counters in Redis, shared by every instance, with the counts of one event-loop turn sent
 * together: one script call counts them all, each key still counted atomically in the order its
 * calls arrived, so the counts are exactly those of one call each. A call waits at most for the
 * rest of its turn, and rejects when Redis does not answer (the limiter then serves the request
 * unlimited, the login throttle lets the attempt through).
 */
export function createRedisCounters (redis: Redis, keyPrefix: string): CounterStore {
  redis.defineCommand('tesseraCountMany', { lua: COUNT_MANY })
  const countMany = (redis as Redis & { tesseraCountMany: CountMany }).tesseraCountMany.bind(redis)
  let pending: Pending[] = []

  const send = (batch: Pending[]) => {
    const args = batch.flatMap((p) => [p.step, p.windowMs])
    countMany(batch.length, ...batch.map((p) => p.key), ...args).then(
      (result) => {
        for (const [i, p] of batch.entries()) p.resolve({ current: Number(result[2 * i]), ttlMs: Number(result[2 * i + 1]) })
      },
      (error: unknown) => {
        for (const p of batch) p.reject(error)
      }
    )
  }

  const flush = () => {
    const batch = pending
    pending = []
    for (let start = 0; start < batch.length; start += MAX_BATCH) send(batch.slice(start, start + MAX_BATCH))
  }

  const count = (key: string, step: 1 | -1, windowMs: number) =>
    new Promise<Counter>((resolve, reject) => {
      if (pending.length === 0) setImmediate(flush)
      pending.push({ key: keyPrefix + key, step, windowMs, resolve, reject })
    })

  return {
    incr: (key, windowMs) => count(key, 1, windowMs),
    async decr (key) {
      await count(key, -1, 0)
    },
  }
}
