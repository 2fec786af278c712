import type { Database, DbOrTx, Tx } from '../db/client.js'
import type { AuthTokenRow, UserRow } from '../db/schema.js'
import { ApiError } from '../errors.js'
import { recordEvent } from '../events/events-repository.js'
import { enqueueMail, type QueueOptions } from '../mail/outbox-repository.js'
import { personalTokenCreatedNotice } from '../mail/templates.js'
import { lockUserById } from '../users/users-repository.js'
import type { Role, Scope } from './scopes.js'
import { effectiveScopes, heldScopes, SCOPES, scopesForRole } from './scopes.js'
import { mintToken, parseToken } from './token-format.js'
import * as repo from './tokens-repository.js'
import { type CreateTokenBody, DEFAULT_TOKEN_LIFETIME_DAYS, type TokenView } from './tokens-schemas.js'

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
  kind: string
  role: Role
  scopes: ReadonlySet<Scope>
}

export type Verification =
  | { ok: true; auth: AuthContext }
  | { ok: false; code: 'token_invalid' | 'token_expired' | 'token_revoked' }

const TOKEN_INVALID: Verification = Object.freeze({ ok: false, code: 'token_invalid' })

export interface VerifyDeps {
  database: Database
  now: () => Date
}

/** The verdict on the row found for a presented token (undefined: no such token). */
export function checkToken (token: repo.TokenForAuth | undefined, kind: 'session' | 'personal', now: Date): Verification {
  if (!token) return TOKEN_INVALID
  // a disabled account's tokens are revoked when it is disabled; the flag also covers any race
  if (token.revoked || token.disabled) return { ok: false, code: 'token_revoked' }
  if (token.expiresAtMs !== null && token.expiresAtMs <= now.getTime()) return { ok: false, code: 'token_expired' }
  return {
    ok: true,
    auth: { userId: token.userId, tokenId: token.id, kind, role: token.role, scopes: effectiveScopes(kind, token) },
  }
}

/**
 * Checks a presented bearer token: a bad token is a value, not an exception. One query at most;
 * none when the format or checksum is wrong. The auth guard calls it on every request.
 */
export async function verifyToken (deps: VerifyDeps, presented: string): Promise<Verification> {
  const parsed = parseToken(presented)
  if (!parsed || parsed.kind === 'mail') return TOKEN_INVALID
  const [token] = await repo.findTokenForAuth(deps.database.sql, parsed.digest)
  return checkToken(token, parsed.kind, deps.now())
}

export interface SessionOptions {
  name: string
  ttlSeconds: number
  maxActiveTokens: number
  request: RequestInfo
  now: Date
}

/**
 * Issues a session token. Past the per-user cap, the oldest session tokens are revoked; the
 * user's active tokens are locked first so that concurrent logins cannot overshoot the cap.
 */
export async function issueSessionToken (
  tx: DbOrTx,
  userId: string,
  options: SessionOptions
): Promise<NewToken> {
  // serialises with logout-all and password changes: see lockUserById
  await lockUserById(tx, userId)
  const activeTokens = await repo.lockActiveTokens(tx, userId, options.now)
  const excess = activeTokens.length + 1 - options.maxActiveTokens
  if (excess > 0) {
    const oldestSessions = activeTokens.filter((t) => t.kind === 'session').slice(0, excess)
    await repo.revokeTokensByIds(
      tx,
      oldestSessions.map((t) => t.id),
      options.now
    )
  }
  const { secret, digest } = mintToken('session')
  const row = await repo.insertToken(tx, {
    userId,
    tokenHash: digest,
    kind: 'session',
    name: options.name,
    // every scope, narrowed by the role on each request (see effectiveScopes)
    scopes: [...SCOPES],
    expiresAt: new Date(options.now.getTime() + options.ttlSeconds * 1000),
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
  }
}

/** The caller's active tokens, newest first (served by auth_tokens_user_active_idx). */
export async function listTokens (database: Database, auth: AuthContext, now: Date): Promise<TokenView[]> {
  const rows = await repo.listActiveTokens(database.db, auth.userId, now)
  // what each token holds now, not what it was issued with (a session's stored scopes are all of them)
  return rows.map((row) => toTokenView({ ...row, scopes: heldScopes(row.scopes, auth.role) }, auth.tokenId))
}

async function lockUser (tx: Tx, userId: string): Promise<UserRow> {
  const user = await lockUserById(tx, userId)
  // the token was valid a moment ago; its user can only vanish if deleted meanwhile
  if (!user) throw new ApiError('token_revoked')
  return user
}

/**
 * A token never holds a scope its user's role does not allow, nor one the token creating it
 * lacks (a `tokens:write`-only token must not mint itself `profile:write`). Refused, never narrowed.
 */
function assertGrantable (requested: readonly Scope[], role: Role, creator: AuthContext): void {
  const allowed = scopesForRole(role)
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

export interface CreatePersonalTokenOptions {
  maxActiveTokens: number
  request: RequestInfo
  now: Date
  /** The mail cap per recipient (absent: API.md's default). */
  mailQueue?: QueueOptions
}

/** Creates a personal token (shown once); its owner is told by mail, without the secret. */
export async function createPersonalToken (
  database: Database,
  creator: AuthContext,
  body: CreateTokenBody,
  options: CreatePersonalTokenOptions
): Promise<NewToken> {
  const { now } = options
  return database.db.transaction(async (tx) => {
    // the user lock and the row locks make concurrent creations see one another: no overshoot
    const user = await lockUser(tx, creator.userId)
    assertGrantable(body.scopes, user.role, creator)
    const activeTokens = await repo.lockActiveTokens(tx, user.id, now)
    if (activeTokens.length >= options.maxActiveTokens) {
      throw new ApiError('token_limit_reached', {
        message: `You already have ${activeTokens.length} active tokens, the most allowed (${options.maxActiveTokens}); revoke one first.`,
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
      userAgent: options.request.userAgent,
      lastUsedIp: null,
    })
    await recordEvent(tx, {
      type: 'token.created',
      userId: user.id,
      tokenId: row.id,
      ...options.request,
      data: { createdBy: creator.tokenId, name: row.name, scopes: row.scopes, kind: 'personal' },
    })
    await enqueueMail(tx, personalTokenCreatedNotice(user, row), options.mailQueue)
    return { secret, row }
  })
}

/** Revokes one of the caller's tokens; unknown or someone else's → 404; already revoked → no-op. */
export async function revokeOwnToken (
  database: Database,
  auth: AuthContext,
  tokenId: string,
  options: { request: RequestInfo; now: Date }
): Promise<void> {
  await database.db.transaction(async (tx) => {
    const token = await repo.lockUserToken(tx, auth.userId, tokenId)
    if (!token) throw new ApiError('not_found', { message: 'You have no token with this id.' })
    if (token.revoked) return
    await repo.revokeTokensByIds(tx, [token.id], options.now)
    await recordEvent(tx, {
      type: 'token.revoked',
      userId: auth.userId,
      tokenId: token.id,
      ...options.request,
      data: { revokedBy: auth.tokenId },
    })
  })
}

/**
 * Revokes every token of the user, the presenting one included. Under the user lock, so a login
 * racing it either committed first (and its token is revoked here) or waits and issues its token
 * after this commits: no token created before logout-all commits survives it.
 */
export async function logoutAll (
  database: Database,
  auth: AuthContext,
  options: { request: RequestInfo; now: Date }
): Promise<number> {
  return database.db.transaction(async (tx) => {
    await lockUser(tx, auth.userId)
    const revoked = await repo.revokeAllUserTokens(tx, auth.userId, options.now)
    await recordEvent(tx, {
      type: 'logout',
      userId: auth.userId,
      tokenId: auth.tokenId,
      ...options.request,
      data: { all: true, revokedTokens: revoked },
    })
    return revoked
  })
}

/**
 * Anyone may kill a leaked token without logging in. The caller learns nothing: the answer is the
 * same whether the string was a live token, a dead one or no token at all.
 */
export async function revokeLeakedToken (
  database: Database,
  presented: string,
  options: { request: RequestInfo; now: Date }
): Promise<void> {
  const parsed = parseToken(presented)
  // mail tokens live in one_time_tokens and are single-use and short-lived anyway
  if (!parsed || parsed.kind === 'mail') return
  await database.db.transaction(async (tx) => {
    const revoked = await repo.revokeTokenByDigest(tx, parsed.digest, options.now)
    if (!revoked) return
    await recordEvent(tx, {
      type: 'token.revoked',
      userId: revoked.userId,
      tokenId: revoked.id,
      ...options.request,
      data: { via: 'leak_report' },
    })
  })
}

/**
 * Deletes tokens expired or revoked more than `retentionDays` ago, in batches; returns how many.
 * Used by the periodic cleanup job and by `tessera tokens prune`.
 */
export async function pruneExpiredTokens (
  database: Database,
  retentionDays: number,
  now: Date
): Promise<number> {
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS)
  let total = 0
  for (;;) {
    const deleted = await repo.pruneTokensBatch(database.db, cutoff, PRUNE_BATCH_SIZE)
    total += deleted
    if (deleted < PRUNE_BATCH_SIZE) return total
  }
}

export async function revokeToken (db: DbOrTx, tokenId: string, now: Date): Promise<void> {
  await repo.revokeTokensByIds(db, [tokenId], now)
}
