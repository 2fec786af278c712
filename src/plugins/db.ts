import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Database } from '../db/client.js'

export interface DbPluginOptions {
  database: Database
  /** Close the pool when the app closes (false when the caller owns it, as tests sharing a pool do). */
  closeOnShutdown: boolean
}

async function dbPlugin (app: FastifyInstance, options: DbPluginOptions) {
  app.decorate('database', options.database)
  if (options.closeOnShutdown) app.addHook('onClose', () => options.database.close())
}

export default fp(dbPlugin, { name: 'db' })
