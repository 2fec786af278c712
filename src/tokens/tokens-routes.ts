import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { Accepted, accepted, errorResponses, IdParams } from '../schemas.js'
import { CreatedToken, createTokenBodySchema, RevokeLeakedBody, TokenList } from './tokens-schemas.js'
import {
  createPersonalToken,
  listTokens,
  logout,
  logoutAll,
  revokeLeakedToken,
  revokeOwnToken,
  toTokenView,
} from './tokens-service.js'

// a response that carries a secret must not be stored by any cache (API.md, Tokens)
const NO_STORE = { 'cache-control': 'no-store' }
const REVOKE_ACCEPTED = accepted('If this was a live token, it is revoked now.')

export const tokensRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)

  app.get(
    '/v1/ping',
    {
      config: { auth: 'any' },
      schema: {
        tags: ['auth'],
        summary: 'The example protected route',
        security: [{ bearer: [] }],
        response: { 200: Type.Object({ message: Type.Literal('pong') }), ...errorResponses(401, 429) },
      },
    },
    async () => ({ message: 'pong' as const })
  )

  app.post(
    '/v1/auth/logout',
    {
      config: { auth: 'any' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke the presenting token',
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), ...errorResponses(401, 429) },
      },
    },
    async (request, reply) => {
      await logout(deps, authOf(request), requestInfo(request))
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/v1/auth/logout-all',
    {
      config: { auth: 'tokens:write' },
      schema: {
        tags: ['auth'],
        summary: 'Revoke every token of the caller, the presenting one included',
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), ...errorResponses(401, 403, 429) },
      },
    },
    async (request, reply) => {
      await logoutAll(deps, authOf(request), requestInfo(request))
      return reply.code(204).send(null)
    }
  )

  app.get(
    '/v1/me/tokens',
    {
      config: { auth: 'tokens:read' },
      schema: {
        tags: ['tokens'],
        summary: "The caller's active tokens, newest first (never a secret)",
        security: [{ bearer: [] }],
        response: { 200: TokenList, ...errorResponses(401, 403, 429) },
      },
    },
    async (request) => ({ tokens: await listTokens(deps, authOf(request)) })
  )

  app.post(
    '/v1/me/tokens',
    {
      config: { auth: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Create a personal token with chosen scopes and lifetime; the secret is shown once',
        security: [{ bearer: [] }],
        body: createTokenBodySchema(app.scopes.list.map((scope) => scope.name)),
        response: { 201: CreatedToken, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const auth = authOf(request)
      const created = await createPersonalToken(deps, auth, request.body, requestInfo(request))
      return reply
        .code(201)
        .headers(NO_STORE)
        .send({ token: created.secret, tokenInfo: toTokenView(created.row, auth.tokenId) })
    }
  )

  app.delete(
    '/v1/me/tokens/:id',
    {
      config: { auth: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Revoke one of your tokens (a compromised one); repeating it is harmless',
        security: [{ bearer: [] }],
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      await revokeOwnToken(deps, authOf(request), request.params.id, requestInfo(request))
      return reply.code(204).send(null)
    }
  )

  app.post(
    '/v1/tokens/revoke',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Revoke a leaked token without logging in; the same answer whether it existed or not',
        body: RevokeLeakedBody,
        response: { 202: Accepted, ...errorResponses(400, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      await revokeLeakedToken(deps, request.body.token, requestInfo(request))
      return reply.code(202).send(REVOKE_ACCEPTED)
    }
  )
}
