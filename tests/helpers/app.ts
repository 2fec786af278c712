import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { type BuildAppOptions, buildApp } from '../../src/app.js'
import { type Config, loadConfig } from '../../src/config.js'
import type { Database } from '../../src/db/client.js'
import { createTestDatabase, type TestDatabase } from './db.js'

/** Cheap argon2 for tests; production defaults are exercised by the bench and the CI smoke run. */
export const TEST_ENV: Record<string, string> = {
  ARGON2_MEMORY_KIB: '1024',
  ARGON2_TIME_COST: '1',
  LOG_LEVEL: 'silent',
  CLEANUP_INTERVAL_SECONDS: '0',
  // tests deliver mail with app.tessera.mailer.deliverPending() and read tokens from mail_outbox
  // (delivery on commit is off too, unless a test asks for it: see TestAppOptions.mail)
  MAIL_POLL_INTERVAL_SECONDS: '0',
}

export function testConfig (env: Record<string, string> = {}): Config {
  return loadConfig({ ...TEST_ENV, ...env })
}

export interface TestAppOptions {
  env?: Record<string, string>
  now?: () => Date
  database?: Database
  /** Apps share Redis counters only when given the same keyPrefix (default: a unique one each). */
  rateLimit?: BuildAppOptions['rateLimit']
  /** Default `deliverOnCommit: false`: delivery blanks the tokens that tests read from the outbox. */
  mail?: BuildAppOptions['mail']
}

/** Builds an app on the given database (not owning it: the test closes the database). */
export async function buildTestApp (database: Database, options: Omit<TestAppOptions, 'database'> = {}) {
  const app = await buildApp({
    config: testConfig(options.env),
    database,
    ownsDatabase: false,
    ...(options.now ? { now: options.now } : {}),
    rateLimit: { keyPrefix: `tessera-test:${randomBytes(6).toString('hex')}:`, ...options.rateLimit },
    mail: { deliverOnCommit: false, ...options.mail },
  })
  // Tessera keeps its pool to itself (core.ts); the tests' own queries use the same one
  app.decorate('database', database)
  await app.ready()
  return app
}

/**
 * The usual test file setup: one database for the file, a fresh app per test (closed after it),
 * and the tables emptied between tests so that every test starts from nothing.
 * `context.app` is ready in every test; `setup({ env })` rebuilds it with other configuration.
 */
export function useTestApp (options: Omit<TestAppOptions, 'database'> = {}) {
  const context = {} as { app: FastifyInstance; db: TestDatabase }
  beforeAll(async () => {
    context.db = await createTestDatabase()
  })
  afterAll(async () => {
    await context.db?.drop()
  })
  let current: FastifyInstance | undefined
  const setup = async (overrides: Omit<TestAppOptions, 'database'> = {}) => {
    await current?.close()
    await truncateAll(context.db.database)
    current = await buildTestApp(context.db.database, {
      ...options,
      ...overrides,
      env: { ...options.env, ...overrides.env },
    })
    context.app = current
    return current
  }
  beforeEach(async () => {
    await setup()
  })
  afterEach(async () => {
    await current?.close()
    current = undefined
  })
  return { context, setup }
}

export async function truncateAll (database: Database) {
  await database.sql`truncate users, auth_tokens, rate_limit_overrides, one_time_tokens, mail_outbox, security_events, scope_declarations cascade`
}
