import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'

/** OpenAPI 3 generated from the route schemas: /docs (interactive) and /docs/json. */
async function docs (app: FastifyInstance) {
  await app.register(swagger, {
    // shared schemas (User, Error) keep their $id as their component name
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Tessera',
        description: 'Opaque bearer tokens stored in PostgreSQL, for HTTP APIs.',
        version: '1.0.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'A Tessera token: tsr_sess_… or tsr_pat_…' },
        },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true })
}

export default fp(docs, { name: 'docs' })
