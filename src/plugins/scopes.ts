import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { declareScopes } from '../tokens/scope-declarations.js'
import type { ScopeCatalog } from '../tokens/scopes.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The built-in and declared scopes, as this start recorded them. */
    scopes: ScopeCatalog
  }
}

/** Records the declared application scopes at start (retiring the ones left out) and decorates the catalog. */
async function scopes (app: FastifyInstance) {
  app.decorate('scopes', await declareScopes(app.database.sql, app.config.scopes, app.now()))
}

export default fp(scopes, { name: 'scopes', dependencies: ['context', 'db'] })
