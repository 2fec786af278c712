import formBody from '@fastify/formbody'
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../schemas.js'
import { introspectToken } from './introspection-service.js'
import { IntrospectBody, Introspection } from './protect-schemas.js'

/**
 * RFC 7662 token introspection for resource servers in any language (API.md, Protecting your own
 * API, 2). The caller is guarded and counted like any protected route: its own budget, never the
 * introspected token's user's.
 */
export const introspectionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // RFC 7662 section 2.1: the request is form-encoded; here only (every other route takes JSON)
  await app.register(formBody, { bodyLimit: 4096 })
  const deps = { database: app.database, now: app.now, scopes: app.scopes }

  app.post(
    '/v1/introspect',
    {
      config: { auth: 'tokens:introspect' },
      schema: {
        tags: ['protect'],
        summary: 'Token introspection (RFC 7662)',
        security: [{ bearer: [] }],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: IntrospectBody,
        response: { 200: Introspection, ...errorResponses(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    async (request) => introspectToken(deps, request.body.token)
  )
}
