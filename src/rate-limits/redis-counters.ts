import type { CounterState, CounterStore } from '@fastify/rate-limit/store/LocalStore.js'
import type { Redis } from 'ioredis'

// @fastify/rate-limit's RedisStore script (INCR; the first request of a window sets its expiry,
// the others read what is left of it), for every key of a batch in one call. A counter found
// without an expiry (it cannot happen through this script; a hand-made key could) gets one, so
// that it cannot refuse its caller for ever.
const INCR_MANY = `
local out = {}
for i, key in ipairs(KEYS) do
  local window = tonumber(ARGV[i])
  local current = redis.call('INCR', key)
  local ttl = window
  if current == 1 then
    redis.call('PEXPIRE', key, window)
  else
    ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('PEXPIRE', key, window)
      ttl = window
    end
  end
  out[2 * i - 1] = current
  out[2 * i] = ttl
end
return out`

// keys per script call: a burst larger than this is sent as several calls
const MAX_BATCH = 512

type Callback = (error: Error | null, state: CounterState | null) => void
type IncrMany = (numberOfKeys: number, ...args: Array<string | number>) => Promise<number[]>

/**
 * Request counters in Redis, shared by every instance, with the increments of one event-loop
 * turn sent together: one script call counts them all, each key still incremented atomically in
 * the order its requests arrived, so the counts are exactly those of one call per request.
 * One round trip per request cost a third of an authenticated request's throughput
 * (`npm run bench`, "rate limiting on/off"); batched, a turn's requests share one. A request
 * waits at most for the rest of its turn. Calls back with an error when Redis does not answer
 * (the limiter then serves the request unlimited, see plugins/rate-limit.ts).
 */
export function createRedisCounters (redis: Redis, keyPrefix: string): CounterStore {
  redis.defineCommand('tesseraIncrMany', { lua: INCR_MANY })
  const incrMany = (redis as Redis & { tesseraIncrMany: IncrMany }).tesseraIncrMany.bind(redis)

  let keys: string[] = []
  let windows: number[] = []
  let callbacks: Callback[] = []

  const send = (batchKeys: string[], batchWindows: number[], batchCallbacks: Callback[]) => {
    incrMany(batchKeys.length, ...batchKeys, ...batchWindows).then(
      (result) => {
        for (const [i, callback] of batchCallbacks.entries()) {
          callback(null, { current: Number(result[2 * i]), ttl: Number(result[2 * i + 1]) })
        }
      },
      (error: Error) => {
        for (const callback of batchCallbacks) callback(error, null)
      }
    )
  }

  const flush = () => {
    const [batchKeys, batchWindows, batchCallbacks] = [keys, windows, callbacks]
    keys = []
    windows = []
    callbacks = []
    for (let start = 0; start < batchKeys.length; start += MAX_BATCH) {
      const end = start + MAX_BATCH
      send(batchKeys.slice(start, end), batchWindows.slice(start, end), batchCallbacks.slice(start, end))
    }
  }

  return {
    incr (key, callback, timeWindowMs) {
      if (keys.length === 0) setImmediate(flush)
      keys.push(keyPrefix + key)
      windows.push(timeWindowMs)
      callbacks.push(callback)
    },
  }
}
