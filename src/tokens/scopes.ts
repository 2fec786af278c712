export const SCOPES = ['profile:read', 'profile:write', 'tokens:read', 'tokens:write', 'admin'] as const
export type Scope = (typeof SCOPES)[number]
export type Role = 'user' | 'admin'

const USER_SCOPES: readonly Scope[] = ['profile:read', 'profile:write', 'tokens:read', 'tokens:write']

/** Every scope a role allows: `admin` only for admins. */
export function scopesForRole (role: Role): readonly Scope[] {
  return role === 'admin' ? SCOPES : USER_SCOPES
}

// a session token's scopes follow from the role alone: one shared set per role, not one per request
const SESSION_SCOPES: Record<Role, ReadonlySet<Scope>> = {
  user: new Set(USER_SCOPES),
  admin: new Set(SCOPES),
}

/**
 * What a token may do right now: a session token holds everything its user's role allows;
 * a personal token holds what it was given, narrowed by the role as it is today (so a demoted
 * admin's tokens lose `admin` on their next request).
 */
export function effectiveScopes (kind: string, tokenScopes: readonly string[] | null, role: Role): ReadonlySet<Scope> {
  if (kind === 'session') return SESSION_SCOPES[role]
  return new Set(scopesForRole(role).filter((scope) => tokenScopes?.includes(scope)))
}
