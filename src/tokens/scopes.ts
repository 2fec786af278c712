export const SCOPES = ['profile:read', 'profile:write', 'tokens:read', 'tokens:write', 'admin', 'tokens:introspect'] as const
export type Scope = (typeof SCOPES)[number]
export type Role = 'user' | 'admin'

/** The scopes only an admin may hold; a demotion strips them from the user's tokens for good. */
export const ADMIN_ONLY_SCOPES: readonly Scope[] = ['admin', 'tokens:introspect']

const USER_SCOPES: readonly Scope[] = SCOPES.filter((scope) => !ADMIN_ONLY_SCOPES.includes(scope))

/** Every scope a role allows: `admin` only for admins. */
export function scopesForRole (role: Role): readonly Scope[] {
  return role === 'admin' ? SCOPES : USER_SCOPES
}

/** The scopes a token's stored ones come to under the role as it is now, in stored order. */
export function heldScopes (tokenScopes: readonly string[], role: Role): Scope[] {
  const allowed: readonly string[] = scopesForRole(role)
  return tokenScopes.filter((scope): scope is Scope => allowed.includes(scope))
}

// a session token's scopes come from the role and one bit: one shared set each, not one per request
const SESSION_SCOPES: Record<Role, ReadonlySet<Scope>> = {
  user: new Set(USER_SCOPES),
  admin: new Set(SCOPES),
}

/** What the auth lookup reads of a token to know its scopes. */
export interface ScopeSource {
  role: Role
  /** A personal token's stored scopes (null for a session token). */
  scopes: readonly string[] | null
  /** `admin` is among the stored scopes. */
  holdsAdmin: boolean
}

/**
 * What a token may do right now: its stored scopes narrowed by the role as it is today, so a
 * demoted admin's tokens lose `admin` on their next request. A session token is issued with
 * every scope (it holds whatever its user's role allows, so a promotion reaches it), and a
 * demotion strips `admin` from it in the database: a later re-promotion does not bring it back.
 */
export function effectiveScopes (kind: string, token: ScopeSource): ReadonlySet<Scope> {
  if (kind === 'session') {
    return SESSION_SCOPES[token.role === 'admin' && token.holdsAdmin ? 'admin' : 'user']
  }
  return new Set(heldScopes(token.scopes ?? [], token.role))
}

/** API.md, Tokens: what a scope's name may be (1-64 characters). */
export const SCOPE_NAME_PATTERN = '^[a-z][a-z0-9_-]*(:[a-z0-9_*-]+)*$'
const SCOPE_NAME = new RegExp(SCOPE_NAME_PATTERN)
export const isScopeName = (name: string) => name.length <= 64 && SCOPE_NAME.test(name)
