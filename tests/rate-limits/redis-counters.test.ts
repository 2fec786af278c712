import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRedisCounters } from '../../src/rate-limits/redis-counters.js'
import { testRedisUrl } from '../helpers/redis.js'

const REDIS_URL = testRedisUrl()

const prefix = () => `tessera-test:${randomBytes(6).toString('hex')}:`

/** Calls incr for each [key, window] in the same turn; resolves with each call's answer, in order. */
const incrAll = (store: ReturnType<typeof createRedisCounters>, calls: Array<[string, number]>) =>
  Promise.all(calls.map(([key, windowMs]) => store.incr(key, windowMs)))

describe.runIf(REDIS_URL !== null)('Redis counters, batched per event-loop turn', () => {
  let redis: Redis
  beforeAll(() => {
    redis = new Redis(REDIS_URL as string)
  })
  afterAll(() => redis.quit())

  it('counts every call of a turn, in call order, past the size of one batch', async () => {
    const keyPrefix = prefix()
    const store = createRedisCounters(redis, keyPrefix)
    const answers = await incrAll(store, Array.from({ length: 1200 }, () => ['user:1', 60_000]))
    expect(answers.map((answer) => answer.current)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1))
    for (const { ttlMs } of answers) {
      expect(ttlMs).toBeGreaterThan(55_000)
      expect(ttlMs).toBeLessThanOrEqual(60_000)
    }
    expect(await redis.get(`${keyPrefix}user:1`)).toBe('1200')
  })

  it('keeps keys apart, each with its own window, and goes on counting in the next turn', async () => {
    const keyPrefix = prefix()
    const store = createRedisCounters(redis, keyPrefix)
    const first = await incrAll(store, [['a', 60_000], ['b', 5_000], ['a', 60_000]])
    expect(first.map((answer) => answer.current)).toEqual([1, 1, 2])
    expect(first[1]?.ttlMs).toBe(5_000)
    const pttl = await redis.pttl(`${keyPrefix}b`)
    expect(pttl).toBeGreaterThan(4_000)
    expect(pttl).toBeLessThanOrEqual(5_000)
    const next = await incrAll(store, [['a', 60_000], ['b', 5_000]])
    expect(next.map((answer) => answer.current)).toEqual([3, 2])
    expect(next[1]?.ttlMs).toBeLessThanOrEqual(5_000)
  })

  it('uncounts in the same batch as the counts, in call order, and only in a running window', async () => {
    const keyPrefix = prefix()
    const store = createRedisCounters(redis, keyPrefix)
    await Promise.all([store.incr('a', 60_000), store.incr('a', 60_000), store.decr('a'), store.decr('gone')])
    expect(await redis.get(`${keyPrefix}a`)).toBe('1')
    expect(await redis.pttl(`${keyPrefix}a`)).toBeGreaterThan(55_000)
    // DECR on a missing key would create a count of -1 without expiry
    expect(await redis.exists(`${keyPrefix}gone`)).toBe(0)
  })

  it('gives a counter found without an expiry one, so that it cannot refuse for ever', async () => {
    const keyPrefix = prefix()
    await redis.set(`${keyPrefix}user:stuck`, '41')
    const [answer] = await incrAll(createRedisCounters(redis, keyPrefix), [['user:stuck', 30_000]])
    expect(answer).toEqual({ current: 42, ttlMs: 30_000 })
    expect(await redis.pttl(`${keyPrefix}user:stuck`)).toBeGreaterThan(25_000)
  })

  it('rejects every call of the batch when Redis does not answer', async () => {
    const offline = new Redis(REDIS_URL as string, { lazyConnect: true, enableOfflineQueue: false })
    offline.on('error', () => {})
    const store = createRedisCounters(offline, prefix())
    const answers = await Promise.allSettled([store.incr('a', 1_000), store.incr('b', 1_000), store.decr('a')])
    for (const answer of answers) {
      expect(answer.status).toBe('rejected')
      expect((answer as PromiseRejectedResult).reason).toBeInstanceOf(Error)
    }
    offline.disconnect()
  })
})
