import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { errorResponses, IdParams } from '../schemas.js'
import type { Actor } from './actor.js'
import { AdminUserEnvelope, ListUsersQuery, ListUsersResponse, UpdateUserBody } from './admin-schemas.js'
import * as admin from './admin-service.js'

export function adminActor (request: FastifyRequest): Actor {
  const auth = authOf(request)
  return { userId: auth.userId, tokenId: auth.tokenId, ...requestInfo(request) }
}

/** User management; every route needs the `admin` scope, which follows the role on each request. */
export const adminRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)
  const common = { tags: ['admin'], security: [{ bearer: [] }] }

  app.get(
    '/v1/admin/users',
    {
      config: { auth: 'admin' },
      schema: {
        ...common,
        summary: 'List users, newest first',
        querystring: ListUsersQuery,
        response: { 200: ListUsersResponse, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => admin.listUsers(deps, request.query)
  )

  app.get(
    '/v1/admin/users/:id',
    {
      config: { auth: 'admin' },
      schema: {
        ...common,
        summary: 'One user',
        params: IdParams,
        response: { 200: AdminUserEnvelope, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => ({
      user: admin.toAdminUser(await admin.requireUser(deps.database.db, request.params.id)),
    })
  )

  app.patch(
    '/v1/admin/users/:id',
    {
      config: { auth: 'admin' },
      schema: {
        ...common,
        summary: "Change a user's role or disable them (disabling revokes all their tokens)",
        params: IdParams,
        body: UpdateUserBody,
        response: { 200: AdminUserEnvelope, ...errorResponses(400, 401, 403, 404, 413, 415, 429) },
      },
    },
    async (request) => {
      const { role, disabled } = request.body
      const user = await admin.updateUserAsAdmin(deps, adminActor(request), request.params.id, { role, disabled })
      return { user: admin.toAdminUser(user) }
    }
  )

  app.delete(
    '/v1/admin/users/:id/tokens',
    {
      config: { auth: 'admin' },
      schema: {
        ...common,
        summary: "Revoke all of a user's tokens",
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await admin.revokeAllTokensAsAdmin(deps, adminActor(request), request.params.id)
      return reply.code(204).send(null)
    }
  )
}
