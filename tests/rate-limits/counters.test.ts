import { describe, expect, it } from 'vitest'
import { createMemoryCounters } from '../../src/rate-limits/counters.js'

/** A clock the test moves by hand. */
function clock (startMs = 1_000_000) {
  let nowMs = startMs
  return { nowMs: () => nowMs, advance: (ms: number) => { nowMs += ms } }
}

describe('in-memory counters (one instance, no Redis)', () => {
  it('counts in a fixed window that starts with the first count, then opens a new one', async () => {
    const time = clock()
    const counters = createMemoryCounters(time.nowMs, 10)
    expect(await counters.incr('ip:a', 60_000)).toEqual({ current: 1, ttlMs: 60_000 })
    time.advance(59_000)
    expect(await counters.incr('ip:a', 60_000)).toEqual({ current: 2, ttlMs: 1_000 })
    time.advance(1_000)
    expect(await counters.incr('ip:a', 60_000)).toEqual({ current: 1, ttlMs: 60_000 })
  })

  it('uncounts in a running window only, never below zero', async () => {
    const time = clock()
    const counters = createMemoryCounters(time.nowMs, 10)
    await counters.incr('login:a', 1_000)
    await counters.decr('login:a')
    await counters.decr('login:a')
    expect((await counters.incr('login:a', 1_000)).current).toBe(1)
    time.advance(1_000)
    await counters.decr('login:a')
    expect((await counters.incr('login:a', 1_000)).current).toBe(1)
  })

  it('forgets the least recently counted keys past maxKeys, and keeps counting the busy one', async () => {
    const counters = createMemoryCounters(clock().nowMs, 3)
    await counters.incr('busy', 60_000)
    for (const key of ['a', 'b', 'c', 'd']) {
      await counters.incr(key, 60_000)
      await counters.incr('busy', 60_000)
    }
    expect((await counters.incr('busy', 60_000)).current).toBe(6)
    // 'a' was the least recently counted when 'd' arrived: its count starts again
    expect((await counters.incr('a', 60_000)).current).toBe(1)
  })
})
