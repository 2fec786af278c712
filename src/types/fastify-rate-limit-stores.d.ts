// @fastify/rate-limit's in-memory counter store, used directly by plugins/rate-limit.ts (the package
// types only its plugin). The signatures are those of its store/LocalStore.js; CounterStore is
// also the shape of Tessera's Redis counters (rate-limits/redis-counters.ts).
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
