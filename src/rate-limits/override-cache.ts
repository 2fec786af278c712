import { LRUCache } from 'lru-cache'
import type { Sql } from '../db/client.js'
import { findOverride, OVERRIDES_CHANNEL, type Override } from './rate-limits-repository.js'

export interface OverrideCacheOptions {
  sql: Sql
  /** The clock, for the entries' maximum age. */
  now: () => Date
  /**
   * Upper bound on how stale an entry can be if a notification is lost: postgres.js re-listens
   * after a reconnect, but gives up silently if PostgreSQL is still down at that moment.
   */
  maxAgeSeconds?: number
  /** Entries kept at most (least recently used dropped first), so memory stays bounded with many users. */
  maxEntries?: number
  onError?: (error: unknown) => void
}

/**
 * Each instance's copy of the operators' overrides: loaded on a user's first request, kept
 * (including "no override") so the hot path does no query, and dropped when any instance (or
 * the CLI) announces a change with NOTIFY.
 */
export function createOverrideCache (options: OverrideCacheOptions) {
  // the promise is the entry: concurrent first requests share one query, and a notification
  // that arrives while it runs deletes it, so the next request reloads
  const entries = new LRUCache<string, Promise<Override | null>>({
    max: options.maxEntries ?? 100_000,
    ttl: (options.maxAgeSeconds ?? 300) * 1000,
    // the injected clock, read on each lookup (no timer: ttlResolution 0)
    perf: { now: () => options.now().getTime() },
    ttlResolution: 0,
  })
  let unlisten: (() => Promise<void>) | null = null

  const load = (userId: string): Promise<Override | null> => {
    const value = findOverride(options.sql, userId)
    entries.set(userId, value)
    // a failed load is not kept: the next request retries
    value.catch(() => {
      if (entries.get(userId) === value) entries.delete(userId)
    })
    return value
  }

  return {
    get: (userId: string): Promise<Override | null> => entries.get(userId) ?? load(userId),

    invalidate (userId: string) {
      entries.delete(userId)
    },

    /** Subscribes to changes; every (re)connection of the listener starts from an empty cache. */
    async start () {
      const subscription = await options.sql.listen(
        OVERRIDES_CHANNEL,
        (userId) => entries.delete(userId),
        // a notification sent while the listener was disconnected is lost: forget everything
        () => entries.clear()
      )
      unlisten = subscription.unlisten
    },

    async close () {
      entries.clear()
      await unlisten?.().catch((error: unknown) => options.onError?.(error))
    },
  }
}
export type OverrideCache = ReturnType<typeof createOverrideCache>
