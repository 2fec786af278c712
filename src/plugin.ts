import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { type ConfigOptions, configFromOptions } from './config.js'
import tesseraCore from './core.js'
import { openDatabase } from './db/open.js'

export interface TesseraOptions extends ConfigOptions {
  /** Where Tessera's own routes go (`/auth` → `/auth/v1/login`); default none: API.md's paths. */
  readonly prefix?: string
}

/**
 * The `tessera` package (API.md, Protecting your own API, 1): Tessera inside a host Fastify app.
 * Its options are validated as the environment is, so `register` rejects a bad one by name; the
 * database is DATABASE_URL's or the embedded one under `dataDir`, and closes with the app.
 */
async function tessera (app: FastifyInstance, options: TesseraOptions) {
  const { prefix = '', ...settings } = options
  if (prefix !== '' && !/^\/[^?#\s]*[^/?#\s]$/.test(prefix)) {
    throw new Error(`Invalid configuration:\n  prefix must be a path such as "/auth" (got ${JSON.stringify(prefix)})`)
  }
  const config = configFromOptions(settings)
  const opened = await openDatabase(config, (message) => app.log.info(message))
  app.addHook('onClose', () => opened.close())
  await app.register(tesseraCore, { config, database: opened.database, ownsDatabase: false, prefix })
}

export default fp(tessera, { name: 'tessera-package', fastify: '5.x' })
export { ConfigError } from './config.js'
export type { TesseraDecorator } from './core.js'
export type { AuthRequirement } from './plugins/authenticate.js'
export type { AuthContext, Verification } from './tokens/tokens-service.js'
