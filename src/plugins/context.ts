import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config.js'
import type { AccountDeps } from '../deps.js'
import { createPasswordHasher } from '../users/passwords.js'

export interface ContextOptions {
  config: Config
  now: () => Date
}

/** What every feature needs: configuration, the clock and the password hasher. */
async function context (app: FastifyInstance, options: ContextOptions) {
  app.decorate('config', options.config)
  app.decorate('now', options.now)
  app.decorate('passwords', createPasswordHasher(options.config.argon2))
}

export default fp(context, { name: 'context' })

/** The deps every route passes to its service: the one place they are gathered from the app. */
export function serviceDeps (app: FastifyInstance): AccountDeps {
  return {
    database: app.database,
    now: app.now,
    config: app.config,
    scopes: app.scopes,
    passwords: app.passwords,
    loginThrottle: app.loginThrottle,
  }
}
