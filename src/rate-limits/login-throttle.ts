import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { ApiError } from '../errors.js'

export interface LoginThrottleSettings {
  maxFailures: number
  failureWindowSeconds: number
}

/** Login attempts per account in a fixed window that starts with the first one. */
export interface AttemptCounter {
  /** Counts an attempt; returns the count in the window and the seconds until it ends. */
  add(key: string): Promise<{ attempts: number; resetInSeconds: number }>
  /** Uncounts an attempt that turned out not to be a failure. */
  remove(key: string): Promise<void>
}

/**
 * Whose budget an attempt spends: the account the database resolved the typed name to, so that
 * its username and its email, in any spelling the database matches, share one budget; or, for a
 * name that matches no account, that name as the database normalises it, under the field it was
 * typed in (an unknown name typed as a username and as an email spends two budgets, as the
 * username and the email of an existing account would if they were not one account's).
 */
export type LoginAccount =
  | { userId: string }
  | { unknown: 'username' | 'email'; normalizedName: string }

export interface LoginThrottle {
  /**
   * Counts a login attempt for this account before the password check, and throws 429
   * rate_limited once the account is past its failures, whether it exists and whatever the
   * password. Counting first (rather than checking, then counting failures) means parallel
   * guesses cannot all slip past the check. Returns the function a success calls to uncount it.
   */
  begin(account: LoginAccount): Promise<() => Promise<void>>
}

// unknown names are hashed: Redis never holds emails (or a password typed as a name), and any
// name fits in a short key; the prefixes keep user ids and the two fields' names apart
const keyOf = (account: LoginAccount) =>
  'userId' in account
    ? `user:${account.userId}`
    : `${account.unknown}:${createHash('sha256').update(account.normalizedName).digest('base64url')}`

export function createLoginThrottle (
  counter: AttemptCounter,
  settings: LoginThrottleSettings,
  onError: (error: unknown) => void
): LoginThrottle {
  const failOpen = (error: unknown) => {
    // like the request limiter: an unreachable store must not lock everyone out
    onError(error)
    return null
  }
  return {
    async begin (account) {
      const key = keyOf(account)
      const state = await counter.add(key).catch(failOpen)
      if (state && state.attempts > settings.maxFailures) {
        const retryAfter = String(Math.max(1, state.resetInSeconds))
        throw new ApiError('rate_limited', {
          message: `Too many failed logins for this account; retry in ${retryAfter} seconds.`,
          headers: { 'retry-after': retryAfter },
        })
      }
      return () => counter.remove(key).catch(onError)
    },
  }
}

// DECR only a live window: on an expired key it would create a count with no expiry
const DECREMENT_IF_PRESENT = 'if redis.call(\'exists\', KEYS[1]) == 1 then return redis.call(\'decr\', KEYS[1]) end return 0'

/** Shared by every instance: INCR, with the expiry set by the first attempt only (NX). */
export function redisAttemptCounter (redis: Redis, prefix: string, windowSeconds: number): AttemptCounter {
  return {
    async add (key) {
      const results = await redis
        .multi()
        .incr(prefix + key)
        .expire(prefix + key, windowSeconds, 'NX')
        .pttl(prefix + key)
        .exec()
      const error = results?.find(([e]) => e)?.[0]
      if (!results || error) throw error ?? new Error('Redis transaction discarded')
      const attempts = Number(results[0]?.[1])
      const ttlMs = Number(results[2]?.[1])
      return { attempts, resetInSeconds: Math.ceil(Math.max(ttlMs, 0) / 1000) }
    },
    async remove (key) {
      await redis.eval(DECREMENT_IF_PRESENT, 1, prefix + key)
    },
  }
}

/** One instance's counters, on the injected clock; expired windows are swept as it grows. */
export function memoryAttemptCounter (
  now: () => Date,
  windowSeconds: number,
  maxKeys = 100_000
): AttemptCounter {
  const windows = new Map<string, { attempts: number; endsAtMs: number }>()
  const live = (key: string) => {
    const entry = windows.get(key)
    if (entry && entry.endsAtMs <= now().getTime()) {
      windows.delete(key)
      return undefined
    }
    return entry
  }
  const makeRoom = () => {
    for (const key of windows.keys()) live(key)
    // still full of live windows: drop the oldest rather than grow without bound
    while (windows.size >= maxKeys) windows.delete(windows.keys().next().value as string)
  }
  return {
    async add (key) {
      let entry = live(key)
      if (entry) entry.attempts += 1
      else {
        if (windows.size >= maxKeys) makeRoom()
        entry = { attempts: 1, endsAtMs: now().getTime() + windowSeconds * 1000 }
        windows.set(key, entry)
      }
      return {
        attempts: entry.attempts,
        resetInSeconds: Math.ceil((entry.endsAtMs - now().getTime()) / 1000),
      }
    },
    async remove (key) {
      const entry = live(key)
      if (entry) entry.attempts = Math.max(0, entry.attempts - 1)
    },
  }
}
