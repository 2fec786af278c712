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
  /** Entries kept at most (oldest dropped first), so memory stays bounded with many users. */
  maxEntries?: number
  onError?: (error: unknown) => void
}

interface Entry {
  loadedAtMs: number
  value: Promise<Override | null>
  /** The value once loaded, so that the hot path need not await a settled promise. */
  loaded?: Override | null
}

/**
 * Each instance's copy of the operators' overrides: loaded on a user's first request, kept
 * (including "no override") so the hot path does no query, and dropped when any instance (or
 * the CLI) announces a change with NOTIFY.
 */
export function createOverrideCache (options: OverrideCacheOptions) {
  const maxAgeMs = (options.maxAgeSeconds ?? 300) * 1000
  const maxEntries = options.maxEntries ?? 100_000
  // the promise is the entry: concurrent first requests share one query, and a notification
  // that arrives while it runs deletes it, so the next request reloads
  const entries = new Map<string, Entry>()
  let unlisten: (() => Promise<void>) | null = null

  const load = (userId: string): Promise<Override | null> => {
    const value = findOverride(options.sql, userId)
    const entry: Entry = { loadedAtMs: options.now().getTime(), value }
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next().value
      if (oldest !== undefined) entries.delete(oldest)
    }
    entries.set(userId, entry)
    value.then(
      (loaded) => {
        entry.loaded = loaded
      },
      () => {
        if (entries.get(userId) === entry) entries.delete(userId)
      }
    )
    return value
  }

  const fresh = (entry: Entry | undefined): entry is Entry =>
    entry !== undefined && options.now().getTime() - entry.loadedAtMs < maxAgeMs

  return {
    get (userId: string): Promise<Override | null> {
      const entry = entries.get(userId)
      return fresh(entry) ? entry.value : load(userId)
    },

    /** The user's override if it is loaded and fresh (null: none); undefined: call get(). */
    peek (userId: string): Override | null | undefined {
      const entry = entries.get(userId)
      return fresh(entry) ? entry.loaded : undefined
    },

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

    get size () {
      return entries.size
    },
  }
}
export type OverrideCache = ReturnType<typeof createOverrideCache>
