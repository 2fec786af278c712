import type { Database, DbOrTx } from '../db/client.js'
import type { AuthTokenRow, UserRow } from '../db/schema.js'
import type { Deps } from '../deps.js'
import { ApiError } from '../errors.js'
import { recordEvent } from '../events/events-repository.js'
import { enqueueMail } from '../mail/outbox-repository.js'
import { personalTokenCreatedNotice } from '../mail/templates.js'
import { readOverride } from '../rate-limits/rate-limits-repository.js'
import { largestTokenMax, resolveLimit } from '../rate-limits/rate-limits-service.js'
import { lockUserById } from '../users/users-repository.js'
import type { Role, Scope } from './scopes.js'
import type { ScopeCatalog } from './scopes.js'
import { mintToken, parseToken } from './token-format.js'
import * as repo from './tokens-repository.js'
import {
  type CreateTokenBody,
  DEFAULT_TOKEN_LIFETIME_DAYS,
  type TokenBudget,
  type TokenView,
} from './tokens-schemas.js'

/** The only place a token's plaintext exists: returned once to its owner, never stored. */
export interface NewToken {
  secret: string
  row: AuthTokenRow
}

export interface RequestInfo {
  ip: string | null
  userAgent: string | null
}

/** The authenticated caller, as the auth preHandler puts it on the request. */
export interface AuthContext {
  userId: string
  tokenId: string
  username: string
  kind: string
  role: Role
  scopes: ReadonlySet<Scope>
  /** The token's own budget, counted as well as the user's; null: the user's alone. */
  tokenBudget: TokenBudget | null
}

export type Verification =
  | { ok: true; auth: AuthContext }
  | { ok: false; code: 'token_invalid' | 'token_expired' | 'token_revoked' }

const TOKEN_INVALID: Verification = Object.freeze({ ok: false, code: 'token_invalid' })

export interface VerifyDeps {
  database: Database
  now: () => Date
  scopes: ScopeCatalog
}

/** The verdict on the row found for a presented token (undefined: no such token). */
export function checkToken (
  scopes: ScopeCatalog,
  token: repo.TokenForAuth | undefined,
  kind: 'session' | 'personal',
  now: Date
): Verification {
  if (!token) return TOKEN_INVALID
  // a disabled account's tokens are revoked when it is disabled; the flag also covers any race
  if (token.revoked || token.disabled) return { ok: false, code: 'token_revoked' }
  if (token.expiresAtMs !== null && token.expiresAtMs <= now.getTime()) return { ok: false, code: 'token_expired' }
  return {
    ok: true,
    auth: {
      userId: token.userId,
      tokenId: token.id,
      username: token.username,
      kind,
      role: token.role,
      scopes: scopes.effective(kind, token),
      tokenBudget: budgetOf(token.budgetMax, token.budgetWindowSeconds),
    },
  }
}

// the columns are both set or both null (a check constraint)
const budgetOf = (max: number | null, windowSeconds: number | null): TokenBudget | null =>
  max === null || windowSeconds === null ? null : { max, windowSeconds }

/**
 * Checks a presented bearer token: a bad token is a value, not an exception. One query at most;
 * none when the format or checksum is wrong. The auth guard calls it on every request.
 */
export async function verifyToken (deps: VerifyDeps, presented: string): Promise<Verification> {
  const parsed = parseToken(presented)
  if (!parsed || parsed.kind === 'mail') return TOKEN_INVALID
  const [token] = await repo.findTokenForAuth(deps.database.sql, parsed.digest)
  return checkToken(deps.scopes, token, parsed.kind, deps.now())
}

/**
 * Issues a session token (SESSION_TTL_SECONDS) in the caller's transaction. Past
 * MAX_ACTIVE_TOKENS_PER_USER the oldest session tokens are revoked; the user's active tokens are
 * locked first so that concurrent logins cannot overshoot the cap.
 */
export async function issueSessionToken (
  deps: Deps,
  tx: DbOrTx,
  userId: string,
  options: { name: string; request: RequestInfo }
): Promise<NewToken> {
  const now = deps.now()
  // serialises with logout-all and password changes: see lockUserById
  await lockUserById(tx, userId)
  const activeTokens = await repo.lockActiveTokens(tx, userId, now)
  const excess = activeTokens.length + 1 - deps.config.maxActiveTokensPerUser
  if (excess > 0) {
    const oldestSessions = activeTokens.filter((t) => t.kind === 'session').slice(0, excess)
    await repo.revokeTokensByIds(
      tx,
      oldestSessions.map((t) => t.id),
      now
    )
  }
  const { secret, digest } = mintToken('session')
  const row = await repo.insertToken(tx, {
    userId,
    tokenHash: digest,
    kind: 'session',
    name: options.name,
    // every scope the role allows, narrowed by the role on each request (ScopeCatalog.effective)
    scopes: [...deps.scopes.forRole('admin')],
    expiresAt: new Date(now.getTime() + deps.config.sessionTtlSeconds * 1000),
    userAgent: options.request.userAgent,
    lastUsedIp: null,
  })
  return { secret, row }
}

const DAY_MS = 86_400_000
const PRUNE_BATCH_SIZE = 10_000

export function toTokenView (row: AuthTokenRow, currentTokenId: string): TokenView {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    scopes: row.scopes,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    lastUsedIp: row.lastUsedIp,
    userAgent: row.userAgent,
    current: row.id === currentTokenId,
    rateLimit: budgetOf(row.rateLimitMax, row.rateLimitWindowSeconds),
  }
}

/** The caller's active tokens, newest first (served by auth_tokens_user_active_idx). */
export async function listTokens (deps: Deps, auth: AuthContext): Promise<TokenView[]> {
  const rows = await repo.listActiveTokens(deps.database.db, auth.userId, deps.now())
  // what each token holds now, not what it was issued with (a session's stored scopes are all of them)
  return rows.map((row) =>
    toTokenView({ ...row, scopes: deps.scopes.held(row.scopes, auth.role, row.createdAt.getTime()) }, auth.tokenId))
}

/**
 * A token never holds a scope its user's role does not allow, nor one the token creating it
 * lacks (a `tokens:write`-only token must not mint itself `profile:write`). Refused, never narrowed.
 */
function assertGrantable (scopes: ScopeCatalog, requested: readonly Scope[], role: Role, creator: AuthContext): void {
  const allowed = scopes.forRole(role)
  const beyondRole = requested.filter((scope) => !allowed.includes(scope))
  if (beyondRole.length > 0) {
    throw new ApiError('forbidden', {
      message: `Your account's role (${role}) does not allow the scope ${beyondRole.join(', ')}.`,
    })
  }
  const beyondToken = requested.filter((scope) => !creator.scopes.has(scope))
  if (beyondToken.length > 0) {
    throw new ApiError('forbidden', {
      message: `The token making this request lacks the scope ${beyondToken.join(', ')}, so it cannot grant it.`,
    })
  }
}

/**
 * A token's budget is never above its user's limit scaled to the token's window (API.md), so a
 * tool given a budget cannot be told it has more than its user. An unlimited user may give any.
 * Checked against the limit as it is now; if it later drops, both are counted and the user's binds.
 */
async function assertBudgetWithinUsers (deps: Deps, tx: DbOrTx, user: UserRow, budget: TokenBudget): Promise<void> {
  const limit = resolveLimit(deps.config.rateLimit, user.role, await readOverride(tx, user.id))
  const largest = largestTokenMax(limit, budget.windowSeconds)
  if (largest === null || budget.max <= largest) return
  const allowed = `at most ${largest} requests per ${budget.windowSeconds} seconds`
  throw new ApiError('validation_failed', {
    message: `A token's budget cannot exceed yours (${limit.max} per ${limit.windowSeconds} seconds): ${allowed}.`,
    details: [{ path: '/rateLimit/max', message: `must be ${allowed} (your own limit)` }],
  })
}

/** Creates a personal token (shown once); its owner is told by mail, without the secret. */
export async function createPersonalToken (
  deps: Deps,
  creator: AuthContext,
  body: CreateTokenBody,
  request: RequestInfo
): Promise<NewToken> {
  const now = deps.now()
  const maxActiveTokens = deps.config.maxActiveTokensPerUser
  return deps.database.db.transaction(async (tx) => {
    // the user lock and the row locks make concurrent creations see one another: no overshoot
    const user = await lockUserById(tx, creator.userId)
    // the token was valid a moment ago; its user can only vanish if deleted meanwhile
    if (!user) throw new ApiError('token_revoked')
    assertGrantable(deps.scopes, body.scopes, user.role, creator)
    const budget = body.rateLimit ?? null
    if (budget) await assertBudgetWithinUsers(deps, tx, user, budget)
    const activeTokens = await repo.lockActiveTokens(tx, user.id, now)
    if (activeTokens.length >= maxActiveTokens) {
      throw new ApiError('token_limit_reached', {
        message: `You already have ${activeTokens.length} active tokens, the most allowed (${maxActiveTokens}); revoke one first.`,
      })
    }
    const { secret, digest } = mintToken('personal')
    const lifetimeDays = body.expiresInDays ?? DEFAULT_TOKEN_LIFETIME_DAYS
    const row = await repo.insertToken(tx, {
      userId: user.id,
      tokenHash: digest,
      kind: 'personal',
      name: body.name,
      scopes: [...body.scopes],
      expiresAt: new Date(now.getTime() + lifetimeDays * DAY_MS),
      userAgent: request.userAgent,
      lastUsedIp: null,
      ...(budget ? { rateLimitMax: budget.max, rateLimitWindowSeconds: budget.windowSeconds } : {}),
    })
    await recordEvent(tx, {
      type: 'token.created',
      userId: user.id,
      tokenId: row.id,
      ...request,
      data: { createdBy: creator.tokenId, name: row.name, scopes: row.scopes, kind: 'personal' },
    })
    await enqueueMail(tx, deps.config, personalTokenCreatedNotice(user, row))
    return { secret, row }
  })
}

/** Revokes one of the caller's tokens; unknown or someone else's → 404; already revoked → no-op. */
export async function revokeOwnToken (
  deps: Deps,
  auth: AuthContext,
  tokenId: string,
  request: RequestInfo
): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const token = await repo.lockUserToken(tx, auth.userId, tokenId)
    if (!token) throw new ApiError('not_found', { message: 'You have no token with this id.' })
    if (token.revoked) return
    await repo.revokeTokensByIds(tx, [token.id], deps.now())
    await recordEvent(tx, {
      type: 'token.revoked',
      userId: auth.userId,
      tokenId: token.id,
      ...request,
      data: { revokedBy: auth.tokenId },
    })
  })
}

/** Revokes the presenting token (POST /v1/auth/logout). */
export async function logout (deps: Deps, auth: AuthContext, request: RequestInfo): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    await repo.revokeTokensByIds(tx, [auth.tokenId], deps.now())
    await recordEvent(tx, { type: 'logout', userId: auth.userId, tokenId: auth.tokenId, ...request })
  })
}

/**
 * Revokes every token of the user, the presenting one included. Under the user lock, so a login
 * racing it either committed first (and its token is revoked here) or waits and issues its token
 * after this commits: no token created before logout-all commits survives it.
 */
export async function logoutAll (deps: Deps, auth: AuthContext, request: RequestInfo): Promise<number> {
  return deps.database.db.transaction(async (tx) => {
    if (!(await lockUserById(tx, auth.userId))) throw new ApiError('token_revoked')
    const revoked = await repo.revokeAllUserTokens(tx, auth.userId, deps.now())
    await recordEvent(tx, {
      type: 'logout',
      userId: auth.userId,
      tokenId: auth.tokenId,
      ...request,
      data: { all: true, revokedTokens: revoked },
    })
    return revoked
  })
}

/**
 * Anyone may kill a leaked token without logging in. The caller learns nothing: the answer is the
 * same whether the string was a live token, a dead one or no token at all.
 */
export async function revokeLeakedToken (deps: Deps, presented: string, request: RequestInfo): Promise<void> {
  const parsed = parseToken(presented)
  // mail tokens live in one_time_tokens and are single-use and short-lived anyway
  if (!parsed || parsed.kind === 'mail') return
  await deps.database.db.transaction(async (tx) => {
    const revoked = await repo.revokeTokenByDigest(tx, parsed.digest, deps.now())
    if (!revoked) return
    await recordEvent(tx, {
      type: 'token.revoked',
      userId: revoked.userId,
      tokenId: revoked.id,
      ...request,
      data: { via: 'leak_report' },
    })
  })
}

/**
 * Deletes tokens expired or revoked more than `retentionDays` ago, in batches; returns how many.
 * Used by the periodic cleanup job and by `tessera tokens prune`.
 */
export async function pruneExpiredTokens (deps: Deps, retentionDays: number): Promise<number> {
  const cutoff = new Date(deps.now().getTime() - retentionDays * DAY_MS)
  let total = 0
  for (;;) {
    const deleted = await repo.pruneTokensBatch(deps.database.db, cutoff, PRUNE_BATCH_SIZE)
    total += deleted
    if (deleted < PRUNE_BATCH_SIZE) return total
  }
}
