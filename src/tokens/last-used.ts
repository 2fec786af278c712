import type { Sql } from '../db/client.js'
import { type LastUse, recordLastUses } from './tokens-repository.js'

/** lastUsedAt is promised to within a minute (API.md): a token used more recently is not re-queued. */
export const LAST_USED_PRECISION_MS = 60_000
const DEFAULT_FLUSH_INTERVAL_MS = 15_000
const MAX_PENDING = 5_000

export interface LastUsedRecorderOptions {
  sql: Sql
  now: () => Date
  flushIntervalMs?: number
  onError?: (error: unknown) => void
}

/**
 * Coalesces last-use writes off the request path: at most one pending record per token,
 * flushed in one batched UPDATE every few seconds and on shutdown. A token whose stored
 * lastUsedAt is under a minute old is not queued at all, so a busy token costs one write a minute.
 */
export function createLastUsedRecorder (options: LastUsedRecorderOptions) {
  const pending = new Map<string, LastUse>()
  let flushing: Promise<void> = Promise.resolve()

  const flush = (): Promise<void> => {
    if (pending.size === 0) return flushing
    const batch = [...pending.values()]
    pending.clear()
    flushing = flushing
      .then(() => recordLastUses(options.sql, batch))
      .catch((error) => options.onError?.(error))
    return flushing
  }

  const timer = setInterval(flush, options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS)
  timer.unref()

  return {
    record (tokenId: string, storedLastUsedAt: Date | null, ip: string | null): void {
      const now = options.now()
      if (storedLastUsedAt && now.getTime() - storedLastUsedAt.getTime() < LAST_USED_PRECISION_MS) return
      if (pending.has(tokenId)) return
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
