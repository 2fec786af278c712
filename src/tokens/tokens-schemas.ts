import { type Static, Type } from 'typebox'
import { OverrideWindowSeconds } from '../rate-limits/rate-limits-schemas.js'
import { SafeText, Timestamp, Uuid } from '../schemas.js'
import type { Scope } from './scopes.js'

export const MIN_TOKEN_LIFETIME_DAYS = 1
export const MAX_TOKEN_LIFETIME_DAYS = 365
export const DEFAULT_TOKEN_LIFETIME_DAYS = 90

/**
 * A personal token's own budget, counted as well as its user's. `max` is at least 1: a token
 * refused on every request is one to revoke, not to keep (an operator's override may be 0, to
 * stop a user without revoking anything).
 */
export const TokenBudgetSchema = Type.Object({
  max: Type.Integer({ minimum: 1, maximum: 1_000_000_000, description: 'requests per window' }),
  windowSeconds: OverrideWindowSeconds,
})
export type TokenBudget = Static<typeof TokenBudgetSchema>

/** API.md's Token object: the allowlist of token fields that leave the server (never the secret). */
export const TokenSchema = Type.Object(
  {
    id: Uuid,
    name: Type.String(),
    kind: Type.Union([Type.Literal('session'), Type.Literal('personal')]),
    scopes: Type.Array(Type.String()),
    createdAt: Timestamp,
    expiresAt: Type.Union([Timestamp, Type.Null()]),
    lastUsedAt: Type.Union([Timestamp, Type.Null()]),
    lastUsedIp: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    current: Type.Boolean({ description: 'True for the token that made this request' }),
    rateLimit: Type.Union([TokenBudgetSchema, Type.Null()], {
      description: "The token's own budget, counted as well as its user's; null: the user's alone",
    }),
  },
  { $id: 'Token' }
)
export type TokenView = Static<typeof TokenSchema>

export const TokenList = Type.Object({ tokens: Type.Array(Type.Ref('Token')) })

/** POST /v1/me/tokens's body, for an app whose scopes (built-in and declared) are `scopeNames`. */
export const createTokenBodySchema = (scopeNames: readonly Scope[]) => Type.Object({
  name: SafeText(1, 100, 'What the token is for, e.g. "backup script"'),
  // an enum rather than a union of literals: one clear error per unknown name ("must be equal to
  // one of the allowed values" at /scopes/<i>) instead of one per literal
  scopes: Type.Array(Type.Unsafe<Scope>({ type: 'string', enum: [...scopeNames] }), {
    minItems: 1,
    maxItems: scopeNames.length,
    uniqueItems: true,
  }),
  expiresInDays: Type.Optional(
    Type.Integer({
      minimum: MIN_TOKEN_LIFETIME_DAYS,
      maximum: MAX_TOKEN_LIFETIME_DAYS,
      default: DEFAULT_TOKEN_LIFETIME_DAYS,
    })
  ),
  // null as the token list shows it: no budget of its own
  rateLimit: Type.Optional(
    Type.Union([TokenBudgetSchema, Type.Null()], {
      description: "A budget of the token's own, at most the user's limit for that window length",
    })
  ),
})
export type CreateTokenBody = Static<ReturnType<typeof createTokenBodySchema>>

export const CreatedToken = Type.Object({
  token: Type.String({ description: 'The bearer token: shown once, never again' }),
  tokenInfo: Type.Ref('Token'),
})

/** Any string: a string that is not a token gets the same 202 as a real one (nothing to learn). */
export const RevokeLeakedBody = Type.Object({ token: Type.String() })
