/** Tessera's own scopes (API.md, Tokens), with what each lets a token do. */
export const BUILT_IN_SCOPES = {
  'profile:read': 'Read your profile',
  'profile:write': 'Change your profile, password and email',
  'tokens:read': 'List your tokens',
  'tokens:write': 'Create and revoke your tokens',
  admin: 'Administer users and rate limits',
  'tokens:introspect': 'Introspect other tokens (RFC 7662), for resource servers',
} as const
export type BuiltInScope = keyof typeof BUILT_IN_SCOPES
/** A built-in scope or one an operator declared (SCOPES, the plugin's `scopes`). */
export type Scope = string
export type Role = 'user' | 'admin'

export const SCOPES = Object.keys(BUILT_IN_SCOPES) as BuiltInScope[]

/** The scopes only an admin may hold; a demotion strips them from the user's tokens for good. */
export const ADMIN_ONLY_SCOPES: readonly BuiltInScope[] = ['admin', 'tokens:introspect']

/** API.md, Tokens: what a scope's name may be (1-64 characters). */
export const SCOPE_NAME_PATTERN = '^[a-z][a-z0-9_-]*(:[a-z0-9_*-]+)*$'
const SCOPE_NAME = new RegExp(SCOPE_NAME_PATTERN)
export const isScopeName = (name: string) => name.length <= 64 && SCOPE_NAME.test(name)

export interface ScopeInfo {
  name: Scope
  description: string
  adminOnly: boolean
}

/** What the auth lookup reads of a token to know its scopes. */
export interface ScopeSource {
  role: Role
  /** A personal token's stored scopes (null for a session token). */
  scopes: readonly string[] | null
  /** `admin` is among the stored scopes. */
  holdsAdmin: boolean
  /** When the token was issued, in epoch milliseconds. */
  createdAtMs: number
}

/**
 * The scopes of one app: the built-in ones and those its operator declares now, and when each
 * declared scope was last removed from the declaration (`retiredAtMs`: see scope-declarations.ts).
 */
export interface ScopeCatalog {
  readonly list: readonly ScopeInfo[]
  /** Every scope a role allows: application scopes for everyone, admin-only ones for admins. */
  forRole(role: Role): readonly Scope[]
  /** A token's stored scopes narrowed to what its role allows now, in stored order. */
  held(tokenScopes: readonly string[], role: Role, createdAtMs: number): Scope[]
  /** What a token may do right now (the guard calls it on every request). */
  effective(kind: string, token: ScopeSource): ReadonlySet<Scope>
}

/**
 * A token's scopes are checked on every request against the role and the declared scopes as they
 * are now (API.md, Tokens): a demoted admin's tokens lose `admin` (the demotion also strips it from
 * them in the database, so a re-promotion does not bring it back), and an application scope removed
 * from the declaration stops working; one declared again works only for tokens issued after that,
 * so re-declaring it does not revive the old ones either.
 */
export function createScopeCatalog (
  declared: Readonly<Record<string, string>>,
  retiredAtMs: ReadonlyMap<Scope, number> = new Map()
): ScopeCatalog {
  const list: ScopeInfo[] = [
    ...SCOPES.map((name) => ({ name, description: BUILT_IN_SCOPES[name], adminOnly: ADMIN_ONLY_SCOPES.includes(name) })),
    ...Object.entries(declared).map(([name, description]) => ({ name, description, adminOnly: false })),
  ]
  const byRole: Record<Role, readonly Scope[]> = {
    user: list.filter((scope) => !scope.adminOnly).map((scope) => scope.name),
    admin: list.map((scope) => scope.name),
  }
  const allowed: Record<Role, ReadonlySet<Scope>> = { user: new Set(byRole.user), admin: new Set(byRole.admin) }
  // one shared set per role for sessions: no set is built on the hot path
  const latestRetirementMs = Math.max(-Infinity, ...retiredAtMs.values())
  const retiredSince = (scope: Scope, createdAtMs: number) => (retiredAtMs.get(scope) ?? -Infinity) >= createdAtMs

  const held = (tokenScopes: readonly string[], role: Role, createdAtMs: number) =>
    tokenScopes.filter((scope) => allowed[role].has(scope) && !retiredSince(scope, createdAtMs))

  return {
    list,
    forRole: (role) => byRole[role],
    held,
    effective (kind, token) {
      if (kind === 'personal') return new Set(held(token.scopes ?? [], token.role, token.createdAtMs))
      // a session holds every scope its role allows; `admin` only while its stored scopes keep it
      const base = allowed[token.role === 'admin' && token.holdsAdmin ? 'admin' : 'user']
      if (token.createdAtMs > latestRetirementMs) return base
      return new Set([...base].filter((scope) => !retiredSince(scope, token.createdAtMs)))
    },
  }
}
