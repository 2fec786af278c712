import { checkToken, type VerifyDeps } from '../tokens/tokens-service.js'
import { parseToken } from '../tokens/token-format.js'
import { findTokenForAuth } from '../tokens/tokens-repository.js'
import type { Introspection } from './protect-schemas.js'

// RFC 7662 section 2.2: anything not live is `{active: false}` and nothing more, so a caller
// learns nothing about a token that does not work (unknown, revoked, expired, a mail token)
const INACTIVE: Introspection = Object.freeze({ active: false })
const seconds = (ms: number) => Math.floor(ms / 1000)

/**
 * What a presented token is, for a resource server (RFC 7662): the guard's own lookup and
 * verdict, and no last-use record, since the token's holder did not use it.
 */
export async function introspectToken (deps: VerifyDeps, presented: string): Promise<Introspection> {
  const parsed = parseToken(presented)
  if (!parsed || parsed.kind === 'mail') return INACTIVE
  const [token] = await findTokenForAuth(deps.database.sql, parsed.digest)
  const verdict = checkToken(deps.scopes, token, parsed.kind, deps.now())
  if (!verdict.ok || !token) return INACTIVE
  const { auth } = verdict
  return {
    active: true,
    scope: [...auth.scopes].join(' '),
    sub: auth.userId,
    username: auth.username,
    token_type: 'Bearer',
    kind: parsed.kind,
    ...(token.expiresAtMs === null ? {} : { exp: seconds(token.expiresAtMs) }),
    iat: seconds(token.createdAtMs),
    jti: auth.tokenId,
  }
}
