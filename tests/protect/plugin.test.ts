import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import postgres from 'postgres'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { runningEmbeddedUrl } from '../../src/db/embedded.js'
import tessera, { type TesseraOptions } from '../../src/plugin.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

// Tessera from a host app's point of view: the package's default export registered in an app of
// the host's own, with the host's routes around it

let db: TestDatabase
const apps: FastifyInstance[] = []

beforeAll(async () => {
  db = await createTestDatabase()
})
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()))
  await db.database.sql`truncate users, auth_tokens, security_events, mail_outbox, one_time_tokens, rate_limit_overrides cascade`
})
afterAll(async () => {
  await db?.drop()
})

const CHEAP: TesseraOptions = { argon2MemoryKib: 1024, argon2TimeCost: 1, cleanupIntervalSeconds: 0, mailPollIntervalSeconds: 0 }
const RECIPE_SCOPES = { 'recipes:read': 'Read your recipes', 'recipes:write': 'Change your recipes' }

/** A host app with routes declared before Tessera, after it, and in a plugin of the host's own. */
async function hostApp (options: TesseraOptions = {}) {
  const app = Fastify()
  apps.push(app)
  app.get('/before', { config: { auth: 'any' } }, async (request) => ({ auth: request.auth }))
  await app.register(tessera, { databaseUrl: db.url, scopes: RECIPE_SCOPES, ...CHEAP, ...options })
  app.get('/recipes', { config: { auth: 'recipes:read' } }, async (request) => ({ userId: request.auth?.userId }))
  app.post('/echo', { schema: { body: { type: 'object', properties: { n: { type: 'integer' } } } } }, async (request) => request.body)
  await app.register(async (child) => {
    child.get('/child', { config: { auth: 'recipes:write' } }, async (request) => ({ scopes: [...(request.auth?.scopes ?? [])] }))
  })
  await app.ready()
  return app
}

describe('the tessera plugin in a host app', () => {
  it('guards host routes declared before and after it, and in the host\'s plugins, with request.auth set', async () => {
    const app = await hostApp()
    const { user, token } = await createLoggedInUser(app)
    for (const url of ['/before', '/recipes', '/child']) {
      const response = await app.inject({ url, headers: bearer(token) })
      expect(response.statusCode, url).toBe(200)
      expect(response.headers['x-ratelimit-limit'], url).toBe('600')
    }
    const before = (await app.inject({ url: '/before', headers: bearer(token) })).json()
    expect(before.auth).toMatchObject({ userId: user.id, kind: 'session', role: 'user', username: user.username })
    expect((await app.inject({ url: '/recipes', headers: bearer(token) })).json()).toEqual({ userId: user.id })
  })

  it.each(['/before', '/recipes', '/child'])('answers %s without a token 401 token_missing in API.md\'s shape', async (url) => {
    const app = await hostApp()
    const response = await app.inject({ url })
    expectError(response, 401, 'token_missing')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
    expect(response.headers['cache-control']).toBe('no-store')
  })

  it('answers a revoked token 401 token_revoked and a token without the scope 403 insufficient_scope', async () => {
    const app = await hostApp()
    const { token } = await createLoggedInUser(app)
    const reader = await createPersonalToken(app, token, { name: 'reader', scopes: ['recipes:read'] })
    expect((await app.inject({ url: '/recipes', headers: bearer(reader.token) })).statusCode).toBe(200)
    const refused = await app.inject({ url: '/child', headers: bearer(reader.token) })
    expectError(refused, 403, 'insufficient_scope')
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="tessera", error="insufficient_scope", scope="recipes:write"')
    await app.inject({ method: 'DELETE', url: `/v1/me/tokens/${reader.id}`, headers: bearer(token) })
    const revoked = await app.inject({ url: '/recipes', headers: bearer(reader.token) })
    expectError(revoked, 401, 'token_revoked')
    expect(revoked.headers['www-authenticate']).toBe('Bearer realm="tessera", error="invalid_token"')
  })

  it('counts host routes against the user\'s budget, with 429 and retry-after past it', async () => {
    const app = await hostApp({ rateLimitMax: 2 })
    const { token } = await createLoggedInUser(app)
    const answers = []
    for (let i = 0; i < 3; i++) answers.push(await app.inject({ url: '/recipes', headers: bearer(token) }))
    expect(answers.map((response) => response.headers['x-ratelimit-remaining'])).toEqual(['1', '0', '0'])
    const refused = answers[2]
    if (!refused) throw new Error('three answers')
    expectError(refused, 429, 'rate_limited')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('leaves routes without config.auth, the host\'s validation and its 404 alone', async () => {
    const app = await hostApp({ rateLimitMax: 1 })
    // fastify's default Ajv coerces "5" (Tessera's own routes refuse it)
    const echoed = await app.inject({ method: 'POST', url: '/echo', payload: { n: '5' } })
    expect(echoed.json()).toEqual({ n: 5 })
    expect(echoed.headers['x-ratelimit-limit']).toBeUndefined()
    expect(echoed.headers['cache-control']).toBeUndefined()
    const unknown = await app.inject({ url: '/no/such/route' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json()).toMatchObject({ error: 'Not Found' })
    const strict = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { email: 5, username: 'x', password: 'y' } })
    expectError(strict, 400, 'validation_failed')
  })

  it('puts Tessera\'s routes under `prefix`, with its 404 there and the host\'s elsewhere', async () => {
    const app = await hostApp({ prefix: '/auth' })
    expect((await app.inject({ method: 'POST', url: '/v1/auth/login', payload: {} })).statusCode).toBe(404)
    const { token } = await createLoggedInUser(prefixed(app, '/auth'))
    expect((await app.inject({ url: '/auth/v1/me', headers: bearer(token) })).statusCode).toBe(200)
    expect((await app.inject({ url: '/recipes', headers: bearer(token) })).statusCode).toBe(200)
    expectError(await app.inject({ url: '/auth/v1/nothing' }), 404, 'not_found')
    expect((await app.inject({ url: '/nothing' })).json()).toMatchObject({ error: 'Not Found' })
    // the web page, its files and its scripts' API calls under the prefix too
    const page = await app.inject({ url: '/auth/account' })
    expect(page.body).toContain('src="/auth/account/assets/app.js"')
    expect(page.body).not.toMatch(/"\/account/)
    expect((await app.inject({ url: '/auth/account/assets/app.js' })).statusCode).toBe(200)
  })

  it('gives app.tessera.verifyToken() the guard\'s verdict', async () => {
    const app = await hostApp()
    const { user, token } = await createLoggedInUser(app)
    const verdict = await app.tessera.verifyToken(token)
    expect(verdict.ok && verdict.auth.userId).toBe(user.id)
    expect(await app.tessera.verifyToken('tsr_sess_forged')).toEqual({ ok: false, code: 'token_invalid' })
    await app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(token) })
    expect(await app.tessera.verifyToken(token)).toEqual({ ok: false, code: 'token_revoked' })
  })

  it('closes its pools with the app', async () => {
    const counter = postgres(db.url, { max: 1 })
    const connections = async () => (await counter<{ n: number }[]>`
      select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`)[0]?.n
    try {
      const before = await connections()
      const app = await hostApp()
      await createLoggedInUser(app)
      expect(await connections()).toBeGreaterThan(before ?? 0)
      await app.close()
      apps.splice(apps.indexOf(app), 1)
      expect(await connections()).toBe(before)
    } finally {
      await counter.end()
    }
  })
})

describe('the tessera plugin without databaseUrl', () => {
  it('starts an embedded PostgreSQL under dataDir, and stops it with the app', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-plugin-'))
    try {
      const app = Fastify()
      await app.register(tessera, { dataDir, ...CHEAP })
      const running = runningEmbeddedUrl(dataDir)
      expect(running).toMatch(/^postgres:\/\/.*127\.0\.0\.1:\d+\//)
      const { token } = await createLoggedInUser(app)
      expect((await app.inject({ url: '/v1/me', headers: bearer(token) })).statusCode).toBe(200)
      await app.close()
      expect(runningEmbeddedUrl(dataDir)).toBeNull()
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('the tessera plugin\'s options', () => {
  it.each([
    [{ rateLimitMax: -1 }, /rateLimitMax must be >= 0 \(got -1\)/],
    [{ sessionTtlSeconds: '60' }, /sessionTtlSeconds must be integer \(got "60"\)/],
    [{ redisUrl: 'http://x' }, /redisUrl must match pattern/],
    [{ rateLimitMaxx: 5 }, /rateLimitMaxx is not an option of tessera/],
    [{ port: 3000 }, /port is not an option of the plugin: the host app listens/],
    [{ trustProxy: true }, /trustProxy is not an option of the plugin: set Fastify's own trustProxy/],
    [{ scopes: { 'tokens:read': 'mine' } }, /scopes has "tokens:read", a built-in scope/],
    [{ scopes: { 'bad scope': 'x' } }, /scopes has "bad scope", which is not a scope name/],
    [{ prefix: 'auth' }, /prefix must be a path such as "\/auth"/],
  ])('rejects register with %j, naming it', async (options, message) => {
    const app = Fastify()
    apps.push(app)
    await expect(app.register(tessera, { databaseUrl: db.url, ...(options as TesseraOptions) }).ready()).rejects.toThrow(message)
  })
})

/** An inject that puts `prefix` before every URL, for helpers that call Tessera's own paths. */
function prefixed (app: FastifyInstance, prefix: string): FastifyInstance {
  return new Proxy(app, {
    get: (target, property) =>
      property === 'inject'
        ? (options: { url: string }) => target.inject({ ...options, url: `${prefix}${options.url}` })
        : Reflect.get(target, property),
  })
}
