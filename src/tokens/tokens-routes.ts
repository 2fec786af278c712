import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { recordEvent } from '../events/events-repository.js'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { errorResponses } from '../schemas.js'
import { revokeToken } from './tokens-service.js'

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
    async () => ({ message: 'pong' as const }),
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
    },
  )
}
