import { type Static, Type } from 'typebox'
import { Uuid } from '../schemas.js'

/** RFC 7662 section 2.1: `token` required, `token_type_hint` accepted (and ignored: one lookup finds any kind). */
export const IntrospectBody = Type.Object({
  token: Type.String({ maxLength: 1024 }),
  token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
})

/** RFC 7662 section 2.2: an active token's claims; an inactive one is `{active: false}` alone. */
export const Introspection = Type.Object({
  active: Type.Boolean(),
  scope: Type.Optional(Type.String({ description: 'The effective scopes, space-separated' })),
  sub: Type.Optional(Uuid),
  username: Type.Optional(Type.String()),
  token_type: Type.Optional(Type.Literal('Bearer')),
  kind: Type.Optional(Type.Union([Type.Literal('session'), Type.Literal('personal')])),
  exp: Type.Optional(Type.Integer({ description: 'Expiry, seconds since the epoch; absent: never expires' })),
  iat: Type.Optional(Type.Integer({ description: 'Issued at, seconds since the epoch' })),
  jti: Type.Optional(Uuid),
})
export type Introspection = Static<typeof Introspection>
