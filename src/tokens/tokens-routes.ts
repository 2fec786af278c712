import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { recordEvent } from '../events/events-repository.js'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { errorResponses, IdParams } from '../schemas.js'
import { Accepted, CreatedToken, CreateTokenBody, RevokeLeakedBody, TokenList } from './tokens-schemas.js'
import {
  createPersonalToken,
  listTokens,
  logoutAll,
  revokeLeakedToken,
  revokeOwnToken,
  revokeToken,
  toTokenView,
} from './tokens-service.js'

// a response that carries a secret must not be stored by any cache (API.md, Tokens)
const NO_STORE = { 'cache-control': 'no-store' }

export const tokensRoutes: FastifyPluginAsyncTypebox = async (app) => {
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
      const auth = authOf(request)
      await app.database.db.transaction(async (tx) => {
        await revokeToken(tx, auth.tokenId, app.now())
        await recordEvent(tx, {
          type: 'logout',
          userId: auth.userId,
          tokenId: auth.tokenId,
          ...requestInfo(request),
        })
      })
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
      await logoutAll(app.database, authOf(request), { request: requestInfo(request), now: app.now() })
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
    async (request) => ({ tokens: await listTokens(app.database, authOf(request), app.now()) })
  )

  app.post(
    '/v1/me/tokens',
    {
      config: { auth: 'tokens:write' },
      schema: {
        tags: ['tokens'],
        summary: 'Create a personal token with chosen scopes and lifetime; the secret is shown once',
        security: [{ bearer: [] }],
        body: CreateTokenBody,
        response: { 201: CreatedToken, ...errorResponses(400, 401, 403, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const auth = authOf(request)
      const created = await createPersonalToken(app.database, auth, request.body, {
        maxActiveTokens: app.config.maxActiveTokensPerUser,
        request: requestInfo(request),
        now: app.now(),
        mailQueue: app.mailer.queue,
      })
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
      await revokeOwnToken(app.database, authOf(request), request.params.id, {
        request: requestInfo(request),
        now: app.now(),
      })
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
      await revokeLeakedToken(app.database, request.body.token, {
        request: requestInfo(request),
        now: app.now(),
      })
      return reply.code(202).send({ status: 'accepted' as const })
    }
  )
}
