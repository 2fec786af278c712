// @fastify/rate-limit's counter stores, used directly by plugins/rate-limit.ts (the package types
// only its plugin). The signatures are those of its store/LocalStore.js and store/RedisStore.js.
declare module '@fastify/rate-limit/store/LocalStore.js' {
  export interface CounterState {
    /** Requests counted in the current window, this one included. */
    current: number
    /** Milliseconds until the window ends. */
    ttl: number
  }

  export interface CounterStore {
    /** Counts one request: LocalStore calls back synchronously, RedisStore when Redis answers. */
    incr (
      key: string,
      callback: (error: Error | null, state: CounterState | null) => void,
      timeWindowMs: number,
      max: number
    ): void
  }

  const LocalStore: new (continueExceeding: boolean, exponentialBackoff: boolean, maxKeys?: number) => CounterStore
  export default LocalStore
}

declare module '@fastify/rate-limit/store/RedisStore.js' {
  import type { Redis } from 'ioredis'
  import type { CounterStore } from '@fastify/rate-limit/store/LocalStore.js'

  const RedisStore: new (
    continueExceeding: boolean,
    exponentialBackoff: boolean,
    redis: Redis,
    keyPrefix?: string
  ) => CounterStore
  export default RedisStore
}
