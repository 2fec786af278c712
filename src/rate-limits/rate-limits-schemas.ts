import { Type } from 'typebox'

export const RateLimitView = Type.Object({
  max: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null: unlimited' }),
  windowSeconds: Type.Integer({ minimum: 1 }),
  source: Type.Union([Type.Literal('user'), Type.Literal('role'), Type.Literal('default')]),
})

/**
 * An override's bounds, shared by PUT /v1/admin/users/:id/rate-limit and `tessera rate-limit set`;
 * a token's own budget has the same window bounds.
 */
export const OverrideMax = Type.Integer({ minimum: 0, maximum: 1_000_000_000 })
export const OverrideWindowSeconds = Type.Integer({ minimum: 1, maximum: 86_400 })

export const RateLimitBody = Type.Object({
  max: Type.Union([OverrideMax, Type.Null()], {
    description: 'requests per window; null: unlimited; 0: every request refused',
  }),
  windowSeconds: OverrideWindowSeconds,
})
