/**
 * One benchmark target, run as its own process so the load generator does not share its event
 * loop: `tsx bench/target.ts <bare|ceiling|ceiling-lookup|tessera|host> <port>` with DATABASE_URL
 * set. Prints "ready".
 */
import Fastify, { type FastifyInstance } from 'fastify'
import { buildApp } from '../src/app.js'
import { loadConfig } from '../src/config.js'
import tesseraPlugin from '../src/plugin.js'
import { createDb } from '../src/db/client.js'
import { digestToken } from '../src/tokens/token-format.js'
import { findTokenForAuth } from '../src/tokens/tokens-repository.js'

const [kind = 'tessera', portArg = '0'] = process.argv.slice(2)
const databaseUrl = process.env.DATABASE_URL ?? ''
const config = loadConfig({
  ...process.env,
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
  CLEANUP_INTERVAL_SECONDS: '0',
})
const PONG = { message: 'pong' }

/** (a) Fastify alone. */
function bare (): FastifyInstance {
  const app = Fastify()
  app.get('/v1/ping', async () => PONG)
  return app
}

/**
 * (b) The design ceiling: SHA-256 and one prepared SELECT by digest, nothing else.
 * With `lookup` (b'), the SELECT is Tessera's own, called through its repository function
 * (src/tokens/tokens-repository.ts): the difference between the two is the lookup's own cost.
 * Both use createDb's pools, so both have postgres.js's classes made optimizable (see
 * makePostgresClassesFast in src/db/client.ts).
 */
function ceiling (lookup: boolean): FastifyInstance {
  const { sql } = createDb(databaseUrl, { poolSize: config.databasePoolSize })
  const app = Fastify()
  app.addHook('preHandler', async (request, reply) => {
    const token = request.headers.authorization?.slice(7) ?? ''
    // the same SHA-256 call as Tessera's
    const digest = digestToken(token)
    const rows = lookup
      ? await findTokenForAuth(sql, digest)
      : await sql`select t.id, u.role from auth_tokens t join users u on u.id = t.user_id where t.token_hash = ${digest}`
    if (rows.length === 0) return reply.code(401).send()
  })
  app.get('/v1/ping', async () => PONG)
  return app
}

async function tessera (): Promise<FastifyInstance> {
  const database = createDb(databaseUrl, { poolSize: config.databasePoolSize })
  // BENCH_RATE_LIMIT=off builds the app without request limiting, for the on/off comparison
  const rateLimit = {
    enabled: process.env.BENCH_RATE_LIMIT !== 'off',
    keyPrefix: `tessera:bench:${process.pid}:`,
  }
  return buildApp({ config, database, logger: { level: config.logLevel }, rateLimit })
}

/** (h) A host app's own route, guarded by the tessera package registered in it. */
async function host (): Promise<FastifyInstance> {
  const app = Fastify()
  // the settings (c) takes from the environment, as the plugin's options
  await app.register(tesseraPlugin, {
    databaseUrl,
    cleanupIntervalSeconds: 0,
    rateLimitMax: config.rateLimit.max,
    databasePoolSize: config.databasePoolSize,
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
  })
  app.get('/orders/:id', { config: { auth: 'any' } }, async () => PONG)
  return app
}

const TARGETS: Record<string, () => FastifyInstance | Promise<FastifyInstance>> = {
  bare,
  ceiling: () => ceiling(false),
  'ceiling-lookup': () => ceiling(true),
  tessera,
  host,
}
const app = await (TARGETS[kind] ?? tessera)()
await app.listen({ host: '127.0.0.1', port: Number(portArg) })
process.stdout.write('ready\n')
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0))
})
