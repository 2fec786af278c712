import type { Database, DbOrTx } from '../db/client.js'
import type { AuthTokenRow } from '../db/schema.js'
import { ApiError } from '../errors.js'
import type { Role, Scope } from './scopes.js'
import { effectiveScopes, scopesForRole } from './scopes.js'
import { mintToken, parseToken } from './token-format.js'
import * as repo from './tokens-repository.js'

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
  scopes: Set<Scope>
}

export type Verification =
  | { ok: true; auth: AuthContext; lastUsedAt: Date | null }
  | { ok: false; code: 'token_invalid' | 'token_expired' | 'token_revoked' }

/**
 * Checks a presented bearer token: a bad token is a value, not an exception.
 * One query at most; none when the format or checksum is wrong.
 */
export async function verifyToken(database: Database, presented: string, now: Date): Promise<Verification> {
  const parsed = parseToken(presented)
  if (!parsed || parsed.kind === 'mail') return { ok: false, code: 'token_invalid' }
  const token = await repo.findTokenForAuth(database.sql, parsed.digest)
  if (!token) return { ok: false, code: 'token_invalid' }
  // a disabled account's tokens are revoked when it is disabled; the flag also covers any race
  if (token.revoked || token.disabled) return { ok: false, code: 'token_revoked' }
  if (token.expiresAt && token.expiresAt <= now) return { ok: false, code: 'token_expired' }
  return {
    ok: true,
    lastUsedAt: token.lastUsedAt,
    auth: {
      userId: token.userId,
      tokenId: token.id,
      kind: token.kind,
      role: token.role,
      scopes: effectiveScopes(token.kind, token.scopes, token.role),
    },
  }
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
export async function issueSessionToken(
  tx: DbOrTx,
  userId: string,
  role: Role,
  options: SessionOptions,
): Promise<NewToken> {
  const activeTokens = await repo.lockActiveTokens(tx, userId, options.now)
  const excess = activeTokens.length + 1 - options.maxActiveTokens
  if (excess > 0) {
    const oldestSessions = activeTokens.filter((t) => t.kind === 'session').slice(0, excess)
    await repo.revokeTokensByIds(
      tx,
      oldestSessions.map((t) => t.id),
      options.now,
    )
  }
  const { secret, digest } = mintToken('session')
  const row = await repo.insertToken(tx, {
    userId,
    tokenHash: digest,
    kind: 'session',
    name: options.name,
    scopes: [...scopesForRole(role)],
    expiresAt: new Date(options.now.getTime() + options.ttlSeconds * 1000),
    userAgent: options.request.userAgent,
    lastUsedIp: null,
  })
  return { secret, row }
}

export async function revokeToken(db: DbOrTx, tokenId: string, now: Date): Promise<void> {
  await repo.revokeTokensByIds(db, [tokenId], now)
}

export function ensureFound<T>(value: T | undefined | null): T {
  if (value === undefined || value === null) throw new ApiError('not_found')
  return value
}
