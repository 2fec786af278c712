import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { declareScopes } from '../tokens/scope-declarations.js'

/** Records the declared application scopes at start (retiring the ones left out) and decorates the catalog. */
async function scopes (app: FastifyInstance) {
  app.decorate('scopes', await declareScopes(app.database.sql, app.config.scopes, app.now()))
}

export default fp(scopes, { name: 'scopes', dependencies: ['context', 'db'] })
