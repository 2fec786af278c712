import { Type } from 'typebox'

export const MAX_WINDOW_SECONDS = 86_400

export const RateLimitView = Type.Object({
  max: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'null: unlimited' }),
  windowSeconds: Type.Integer({ minimum: 1 }),
  source: Type.Union([Type.Literal('user'), Type.Literal('role'), Type.Literal('default')]),
})

export const RateLimitBody = Type.Object({
  max: Type.Union([Type.Integer({ minimum: 0, maximum: 1_000_000_000 }), Type.Null()], {
    description: 'requests per window; null: unlimited; 0: every request refused',
  }),
  windowSeconds: Type.Integer({ minimum: 1, maximum: MAX_WINDOW_SECONDS }),
})
