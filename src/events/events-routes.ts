import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authOf } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { errorResponses } from '../schemas.js'
import { AdminEventsQuery, EventPage, MyEventsQuery } from './events-schemas.js'
import { listEventPage } from './events-service.js'

export const eventsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)

  app.get(
    '/v1/me/events',
    {
      config: { auth: 'profile:read' },
      schema: {
        tags: ['me'],
        summary: 'Your security events, newest first',
        security: [{ bearer: [] }],
        querystring: MyEventsQuery,
        response: { 200: EventPage, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => listEventPage(deps, { ...request.query, userId: authOf(request).userId })
  )

  app.get(
    '/v1/admin/events',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Everyone's security events, newest first, filtered by user and type",
        security: [{ bearer: [] }],
        querystring: AdminEventsQuery,
        response: { 200: EventPage, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => listEventPage(deps, request.query)
  )
}
