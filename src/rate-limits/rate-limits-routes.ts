import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { adminActor } from '../admin/admin-routes.js'
import { authOf } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { errorResponses, IdParams } from '../schemas.js'
import { RateLimitBody, RateLimitView } from './rate-limits-schemas.js'
import * as rateLimits from './rate-limits-service.js'

export const rateLimitsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)
  const admin = { tags: ['admin'], security: [{ bearer: [] }] }

  app.get(
    '/v1/me/rate-limit',
    {
      config: { auth: 'any' },
      schema: {
        tags: ['me'],
        summary: "The caller's effective rate limit (max null: unlimited)",
        security: [{ bearer: [] }],
        response: { 200: RateLimitView, ...errorResponses(401, 429) },
      },
    },
    // the limiter has already resolved it for this request, from the cache
    async (request) => {
      const auth = authOf(request)
      return (
        request.rateLimitBudget ??
        rateLimits.resolveLimit(deps.config.rateLimit, auth.role, await app.overrideCache.get(auth.userId))
      )
    }
  )

  app.get(
    '/v1/admin/users/:id/rate-limit',
    {
      config: { auth: 'admin' },
      schema: {
        ...admin,
        summary: "A user's effective rate limit and where it comes from",
        params: IdParams,
        response: { 200: RateLimitView, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => rateLimits.getUserLimit(deps, request.params.id)
  )

  app.put(
    '/v1/admin/users/:id/rate-limit',
    {
      config: { auth: 'admin' },
      schema: {
        ...admin,
        summary: "Set a user's rate limit; in force on their next request on every instance",
        params: IdParams,
        body: RateLimitBody,
        response: { 200: RateLimitView, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      // named fields only: a stray property (userId) must never reach the row (API.md Conventions)
      const { max, windowSeconds } = request.body
      const limit = await rateLimits.setUserLimit(deps, adminActor(request), request.params.id, { max, windowSeconds })
      // this instance at once; the others when the NOTIFY reaches them, milliseconds later
      app.overrideCache.invalidate(request.params.id)
      return limit
    }
  )

  app.delete(
    '/v1/admin/users/:id/rate-limit',
    {
      config: { auth: 'admin' },
      schema: {
        ...admin,
        summary: "Remove a user's override: back to the role or default limit",
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await rateLimits.clearUserLimit(deps, adminActor(request), request.params.id)
      app.overrideCache.invalidate(request.params.id)
      return reply.code(204).send(null)
    }
  )
}
