import { type Actor, recordAdminEvent } from '../admin/actor.js'
import { requireUser } from '../admin/admin-service.js'
import type { Config } from '../config.js'
import type { Deps } from '../deps.js'
import type { Role } from '../tokens/scopes.js'
import type { Override } from './rate-limits-repository.js'
import * as repo from './rate-limits-repository.js'

export type LimitSource = 'user' | 'role' | 'default'

export interface EffectiveLimit {
  /** null: unlimited. */
  max: number | null
  windowSeconds: number
  source: LimitSource
}

export type RateLimitSettings = Config['rateLimit']

/** API.md's resolution, first match: the user's override, the role's default, RATE_LIMIT_MAX. */
export function resolveLimit (
  settings: RateLimitSettings,
  role: Role,
  override: Override | null
): EffectiveLimit {
  if (override) return { ...override, source: 'user' }
  if (role === 'admin') { return { max: settings.adminMax, windowSeconds: settings.windowSeconds, source: 'role' } }
  return { max: settings.max, windowSeconds: settings.windowSeconds, source: 'default' }
}

/**
 * The most requests a token may have in `windowSeconds` without outrunning its user's limit
 * (API.md: a token's budget is never above its user's): max * userWindow <= userMax *
 * windowSeconds, rounded down. The schemas bound both factors (1e9 requests, 86,400 seconds),
 * so the product stays below 2^53 and the rounded-down quotient is exact. null: any (an unlimited user).
 */
export function largestTokenMax (limit: EffectiveLimit, windowSeconds: number): number | null {
  if (limit.max === null) return null
  return Math.floor((limit.max * windowSeconds) / limit.windowSeconds)
}

/** Requests without an authenticated user (no token, or a refused one) share their IP's budget. */
export function anonymousLimit (settings: RateLimitSettings): EffectiveLimit {
  return { max: settings.anonMax, windowSeconds: settings.windowSeconds, source: 'default' }
}

/** Read from the database, not the cache: an operator checking a limit sees what is stored. */
export async function getUserLimit (deps: Deps, userId: string): Promise<EffectiveLimit> {
  const user = await requireUser(deps.database.db, userId)
  return resolveLimit(deps.config.rateLimit, user.role, await repo.readOverride(deps.database.db, userId))
}

/** Sets an override; every instance hears of it at commit and applies it on the next request. */
export async function setUserLimit (
  deps: Deps,
  actor: Actor,
  userId: string,
  override: Override
): Promise<EffectiveLimit> {
  await deps.database.db.transaction(async (tx) => {
    await requireUser(tx, userId)
    await repo.upsertOverride(tx, userId, override, deps.now())
    await recordAdminEvent(tx, actor, { type: 'rate_limit.changed', userId, data: { ...override } })
    await repo.notifyOverrideChanged(tx, userId)
  })
  return { ...override, source: 'user' }
}

/** Removes an override (back to the role or default limit); idempotent. */
export async function clearUserLimit (deps: Deps, actor: Actor, userId: string): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    await requireUser(tx, userId)
    if (!(await repo.deleteOverride(tx, userId))) return
    await recordAdminEvent(tx, actor, { type: 'rate_limit.changed', userId, data: { cleared: true } })
    await repo.notifyOverrideChanged(tx, userId)
  })
}
