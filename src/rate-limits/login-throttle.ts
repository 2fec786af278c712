import { createHash } from 'node:crypto'
import { ApiError } from '../errors.js'
import { type CounterStore, secondsLeft } from './counters.js'

export interface LoginThrottleSettings {
  maxFailures: number
  failureWindowSeconds: number
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

/** Login attempts per account in a fixed window that starts with the first one. */
export function createLoginThrottle (
  counters: CounterStore,
  settings: LoginThrottleSettings,
  onError: (error: unknown) => void
): LoginThrottle {
  const failOpen = (error: unknown) => {
    // like the request limiter: an unreachable store must not lock everyone out
    onError(error)
    return null
  }
  const windowMs = settings.failureWindowSeconds * 1000
  return {
    async begin (account) {
      const key = keyOf(account)
      const state = await counters.incr(key, windowMs).catch(failOpen)
      if (state && state.current > settings.maxFailures) {
        const retryAfter = String(secondsLeft(state))
        throw new ApiError('rate_limited', {
          message: `Too many failed logins for this account; retry in ${retryAfter} seconds.`,
          headers: { 'retry-after': retryAfter },
        })
      }
      return () => counters.decr(key).catch(onError)
    },
  }
}
