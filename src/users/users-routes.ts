import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { errorResponses } from '../schemas.js'
import {
  ChangePasswordBody,
  LoginBody,
  LoginResponse,
  RegisterBody,
  UpdateMeBody,
  UserEnvelope,
} from './users-schemas.js'
import * as users from './users-service.js'

const NO_STORE = { 'cache-control': 'no-store' }

export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)

  app.post(
    '/v1/auth/register',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account',
        body: RegisterBody,
        response: { 201: UserEnvelope, ...errorResponses(400, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const user = await users.registerUser(deps, request.body, requestInfo(request))
      return reply.code(201).send({ user: users.toUser(user) })
    }
  )

  app.post(
    '/v1/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in with a username or email and get a session token',
        body: LoginBody,
        response: { 200: LoginResponse, ...errorResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const { user, token } = await users.login(deps, request.body, requestInfo(request))
      return reply.headers(NO_STORE).send({
        token: token.secret,
        tokenType: 'Bearer' as const,
        tokenId: token.row.id,
        expiresAt: (token.row.expiresAt as Date).toISOString(),
        user: users.toUser(user),
      })
    }
  )

  app.get(
    '/v1/me',
    {
      config: { auth: 'profile:read' },
      schema: {
        tags: ['me'],
        summary: 'The current user',
        security: [{ bearer: [] }],
        response: { 200: UserEnvelope, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ user: users.toUser(await users.getUser(deps, authOf(request).userId)) })
  )

  app.patch(
    '/v1/me',
    {
      config: { auth: 'profile:write' },
      schema: {
        tags: ['me'],
        summary: 'Change the username, or start an email change ({email, currentPassword})',
        security: [{ bearer: [] }],
        body: UpdateMeBody,
        response: { 200: UserEnvelope, ...errorResponses(400, 401, 403, 409, 429) },
      },
    },
    async (request) => {
      const auth = authOf(request)
      const user = await users.updateMe(deps, auth.userId, request.body, {
        ...requestInfo(request),
        tokenId: auth.tokenId,
      })
      return { user: users.toUser(user) }
    }
  )

  app.put(
    '/v1/me/password',
    {
      config: { auth: 'profile:write' },
      schema: {
        tags: ['me'],
        summary: 'Change your password; every other token of yours is revoked',
        security: [{ bearer: [] }],
        body: ChangePasswordBody,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const auth = authOf(request)
      await users.changePassword(deps, auth.userId, request.body, {
        ...requestInfo(request),
        tokenId: auth.tokenId,
      })
      return reply.code(204).send(null)
    }
  )
}
