import { LRUCache } from 'lru-cache'
import type { Sql } from '../db/client.js'
import { type LastUse, recordLastUses } from './tokens-repository.js'

/** lastUsedAt is promised to within a minute (API.md): a token used more recently is not re-queued. */
export const LAST_USED_PRECISION_MS = 60_000
const DEFAULT_FLUSH_INTERVAL_MS = 15_000
const MAX_PENDING = 5_000
// tokens whose last queueing is remembered; past it the longest unused are forgotten (and may
// be queued once more than needed, which the UPDATE's own precision check then skips)
const MAX_REMEMBERED = 100_000

export interface LastUsedRecorderOptions {
  sql: Sql
  now: () => Date
  flushIntervalMs?: number
  onError?: (error: unknown) => void
}

/**
 * Coalesces last-use writes off the request path: at most one pending record per token,
 * flushed in one batched UPDATE every few seconds and on shutdown. A token queued in the last
 * minute is not queued again, and the UPDATE skips a token whose stored lastUsedAt is under a
 * minute old (another instance wrote it), so a busy token costs one write a minute however
 * many instances see it, and the hot path's lookup need not fetch lastUsedAt.
 */
export function createLastUsedRecorder (options: LastUsedRecorderOptions) {
  const pending = new Map<string, LastUse>()
  // tokenId → when this instance last queued it (ms)
  const queuedAtMs = new LRUCache<string, number>({ max: MAX_REMEMBERED })
  let flushing: Promise<void> = Promise.resolve()

  const flush = (): Promise<void> => {
    if (pending.size === 0) return flushing
    const batch = [...pending.values()]
    pending.clear()
    flushing = flushing
      .then(() => recordLastUses(options.sql, batch, LAST_USED_PRECISION_MS / 1000))
      .catch((error) => options.onError?.(error))
    return flushing
  }

  const timer = setInterval(flush, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS)
  timer.unref()

  return {
    /** `now`: when the token was used (the caller's clock reading; the recorder's own by default). */
    record (tokenId: string, ip: string | null, now: Date = options.now()): void {
      const last = queuedAtMs.get(tokenId)
      if (last !== undefined && now.getTime() - last < LAST_USED_PRECISION_MS) return
      queuedAtMs.set(tokenId, now.getTime())
      pending.set(tokenId, { tokenId, at: now, ip })
      // flush() never rejects (it reports errors through onError)
      if (pending.size >= MAX_PENDING) flush()
    },
    flush,
    async close (): Promise<void> {
      clearInterval(timer)
      await flush()
    },
    get pendingCount () {
      return pending.size
    },
  }
}
export type LastUsedRecorder = ReturnType<typeof createLastUsedRecorder>
