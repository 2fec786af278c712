import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses } from '../schemas.js'

const ScopeList = Type.Object({
  scopes: Type.Array(
    Type.Object({
      name: Type.String(),
      description: Type.String(),
      adminOnly: Type.Boolean({ description: 'Only an admin may hold it' }),
    })
  ),
})

export const scopesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const body = { scopes: [...app.scopes.list] }
  app.get(
    '/v1/scopes',
    {
      schema: {
        tags: ['tokens'],
        summary: 'The scopes a token may hold: built-in first, then the application’s',
        response: { 200: ScopeList, ...errorResponses(429) },
      },
    },
    async () => body
  )
}
