import { LRUCache } from 'lru-cache'

/** A fixed window's count, as a store answers it. */
export interface Counter {
  /** Counted in the current window, this one included. */
  current: number
  /** Milliseconds until the window ends. */
  ttlMs: number
}

/**
 * Counters in fixed windows that start with their first count: the request limiter's and the
 * login throttle's, in this instance's memory or in Redis (redis-counters.ts).
 */
export interface CounterStore {
  /** Counts one, opening a window of `windowMs` if none is running. */
  incr(key: string, windowMs: number): Promise<Counter>
  /** Uncounts one in a running window; none running: nothing to do. */
  decr(key: string): Promise<void>
}

/**
 * One instance's counters, on the injected clock. Bounded: past `maxKeys` the least recently
 * counted keys are forgotten (a flood of new keys cannot grow memory without bound).
 */
export function createMemoryCounters (nowMs: () => number, maxKeys: number): CounterStore {
  const windows = new LRUCache<string, { current: number; endsAtMs: number }>({ max: maxKeys })
  const running = (key: string, at: number) => {
    const window = windows.get(key)
    return window !== undefined && window.endsAtMs > at ? window : undefined
  }
  return {
    async incr (key, windowMs) {
      const at = nowMs()
      let window = running(key, at)
      if (window === undefined) {
        window = { current: 0, endsAtMs: at + windowMs }
        windows.set(key, window)
      }
      window.current += 1
      return { current: window.current, ttlMs: window.endsAtMs - at }
    },
    async decr (key) {
      const window = running(key, nowMs())
      if (window) window.current = Math.max(0, window.current - 1)
    },
  }
}

/** The whole seconds a client waits for the window to end (retry-after, x-ratelimit-reset). */
export const secondsLeft = (counter: Counter) => Math.max(1, Math.ceil(counter.ttlMs / 1000))
