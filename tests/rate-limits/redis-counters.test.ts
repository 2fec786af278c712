import { randomBytes } from 'node:crypto'
import type { CounterState } from '@fastify/rate-limit/store/LocalStore.js'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisCounters } from '../../src/rate-limits/redis-counters.js'
import { testRedisUrl } from '../helpers/redis.js'

const REDIS_URL = testRedisUrl()

const prefix = () => `tessera-test:${randomBytes(6).toString('hex')}:`

/** Calls incr for each [key, window] in the same turn; resolves with each call's answer, in order. */
function incrAll (store: ReturnType<typeof createRedisCounters>, calls: Array<[string, number]>) {
  return Promise.all(
    calls.map(
      ([key, windowMs]) =>
        new Promise<{ error: Error | null; state: CounterState | null }>((resolve) => {
          store.incr(key, (error, state) => resolve({ error, state }), windowMs, 10)
        })
    )
  )
}

describe.runIf(REDIS_URL !== null)('Redis request counters, batched per event-loop turn', () => {
  let redis: Redis
  beforeAll(() => {
    redis = new Redis(REDIS_URL as string)
  })
  afterAll(() => redis.quit())

  it('counts every call of a turn, in call order, past the size of one batch', async () => {
    const keyPrefix = prefix()
    const store = createRedisCounters(redis, keyPrefix)
    const answers = await incrAll(store, Array.from({ length: 1200 }, () => ['user:1', 60_000]))
    expect(answers.map((answer) => answer.state?.current)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1))
    for (const { error, state } of answers) {
      expect(error).toBeNull()
      expect(state?.ttl).toBeGreaterThan(55_000)
      expect(state?.ttl).toBeLessThanOrEqual(60_000)
    }
    expect(await redis.get(`${keyPrefix}user:1`)).toBe('1200')
  })

  it('keeps keys apart, each with its own window, and goes on counting in the next turn', async () => {
    const keyPrefix = prefix()
    const store = createRedisCounters(redis, keyPrefix)
    const first = await incrAll(store, [['a', 60_000], ['b', 5_000], ['a', 60_000]])
    expect(first.map((answer) => answer.state?.current)).toEqual([1, 1, 2])
    expect(first[1]?.state?.ttl).toBe(5_000)
    const pttl = await redis.pttl(`${keyPrefix}b`)
    expect(pttl).toBeGreaterThan(4_000)
    expect(pttl).toBeLessThanOrEqual(5_000)
    const next = await incrAll(store, [['a', 60_000], ['b', 5_000]])
    expect(next.map((answer) => answer.state?.current)).toEqual([3, 2])
    expect(next[1]?.state?.ttl).toBeLessThanOrEqual(5_000)
  })

  it('gives a counter found without an expiry one, so that it cannot refuse for ever', async () => {
    const keyPrefix = prefix()
    await redis.set(`${keyPrefix}user:stuck`, '41')
    const [answer] = await incrAll(createRedisCounters(redis, keyPrefix), [['user:stuck', 30_000]])
    expect(answer?.state).toEqual({ current: 42, ttl: 30_000 })
    expect(await redis.pttl(`${keyPrefix}user:stuck`)).toBeGreaterThan(25_000)
  })

  it('answers every call of the batch with the error when Redis does not answer', async () => {
    const offline = new Redis(REDIS_URL as string, { lazyConnect: true, enableOfflineQueue: false })
    offline.on('error', () => {})
    const answers = await incrAll(createRedisCounters(offline, prefix()), [['a', 1_000], ['b', 1_000]])
    for (const { error, state } of answers) {
      expect(error).toBeInstanceOf(Error)
      expect(state).toBeNull()
    }
    offline.disconnect()
  })
})
