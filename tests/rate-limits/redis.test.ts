import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../../src/app.js'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { buildTestApp, testConfig, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, ping } from '../helpers/factories.js'
import { testRedisUrl } from '../helpers/redis.js'
import { createTcpProxy, targetOf, throughProxy } from '../helpers/tcp-proxy.js'

const redisUrl = testRedisUrl()
// without a Redis every suite below is skipped, and vitest runs none of this file's hooks
const REDIS_URL = redisUrl ?? 'redis://127.0.0.1:6379'
const LIMITS = { RATE_LIMIT_MAX: '3', RATE_LIMIT_ANON_MAX: '100', LOGIN_MAX_FAILURES: '2' }

const t = useTestApp({ env: { REDIS_URL, ...LIMITS } })
const extra: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(extra.splice(0).map((app) => app.close()))
})

/** Two instances on one database and one Redis, sharing counters (the same key prefix). */
async function twoInstances () {
  const rateLimit = { keyPrefix: `tessera-test:${randomBytes(6).toString('hex')}:` }
  const options = { env: { REDIS_URL, ...LIMITS }, rateLimit }
  const a = await buildTestApp(t.context.db.database, options)
  const b = await buildTestApp(t.context.db.database, options)
  extra.push(a, b)
  return { a, b }
}

describe.runIf(redisUrl !== null)('with Redis, across instances', () => {
  it("shares a user's budget between two instances", async () => {
    const { a, b } = await twoInstances()
    const { token } = await createLoggedInUser(a)
    expect((await ping(a, token)).statusCode).toBe(200)
    expect((await ping(b, token)).headers['x-ratelimit-remaining']).toBe('1')
    expect((await ping(a, token)).statusCode).toBe(200)
    expectError(await ping(b, token), 429, 'rate_limited')
  })

  it('counts concurrent requests on both instances exactly: the budget, then 429', async () => {
    const { a, b } = await twoInstances()
    const { token } = await createLoggedInUser(a)
    // sent at once, so each instance batches its share of the increments into one Redis call
    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => ping(i % 2 ? a : b, token)))
    const served = responses.filter((response) => response.statusCode === 200)
    expect(served.map((response) => response.headers['x-ratelimit-remaining']).sort()).toEqual(['0', '1', '2'])
    for (const refused of responses.filter((response) => response.statusCode !== 200)) {
      expectError(refused, 429, 'rate_limited')
      expect(refused.headers['x-ratelimit-remaining']).toBe('0')
    }
    expect(responses.length - served.length).toBe(5)
  })

  it("applies an override set through one instance on the other's next request", async () => {
    const { a, b } = await twoInstances()
    const admin = await createLoggedInAdmin(a, t.context.db.database)
    const { user, token } = await createLoggedInUser(a)
    // b has now cached "no override" for the user
    expect((await ping(b, token)).headers['x-ratelimit-limit']).toBe('3')
    const set = await a.inject({
      method: 'PUT',
      url: `/v1/admin/users/${user.id}/rate-limit`,
      headers: bearer(admin.token),
      payload: { max: null, windowSeconds: 60 },
    })
    expect(set.statusCode).toBe(200)
    // NOTIFY is delivered at commit; b hears it within milliseconds
    await vi.waitFor(async () => {
      const response = await ping(b, token)
      expect(response.statusCode).toBe(200)
      expect(response.headers['x-ratelimit-limit']).toBeUndefined()
    })
    for (let i = 0; i < 5; i++) expect((await ping(b, token)).statusCode).toBe(200)
  })

  it('throttles logins per account name on every instance, for existing and unknown names', async () => {
    const { a, b } = await twoInstances()
    const user = await createUser(a)
    const attempt = (app: FastifyInstance, username: string, password: string) =>
      app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password } })
    for (const name of [user.username, 'nobody_at_all']) {
      expectError(await attempt(a, name, 'wrong-password'), 401, 'invalid_credentials')
      expectError(await attempt(b, name.toUpperCase(), 'wrong-password'), 401, 'invalid_credentials')
    }
    const right = await attempt(a, user.username, user.password)
    expectError(right, 429, 'rate_limited')
    expect(Number(right.headers['retry-after'])).toBeGreaterThan(0)
    expectError(await attempt(b, 'nobody_at_all', 'wrong-password'), 429, 'rate_limited')
  })

  it("shares one account's login budget on every instance, whichever name and check spends it", async () => {
    const { a, b } = await twoInstances()
    const { user, token } = await createLoggedInUser(a, { username: 'irina', email: 'irina@example.com' })
    const login = (app: FastifyInstance, payload: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/v1/auth/login', payload })
    expectError(await login(a, { email: 'IRINA@Example.com', password: 'wrong-password' }), 401, 'invalid_credentials')
    const wrongCurrent = await b.inject({
      method: 'PUT',
      url: '/v1/me/password',
      headers: bearer(token),
      payload: { currentPassword: 'wrong-password', newPassword: 'A-brand-new-passphrase-1' },
    })
    expectError(wrongCurrent, 403, 'invalid_credentials')
    // PostgreSQL's lower() matches 'İ' to 'i', as citext does: the same account, the same budget
    expectError(await login(b, { username: 'İrina', password: user.password }), 429, 'rate_limited')
    expectError(await login(a, { username: 'irina', password: user.password }), 429, 'rate_limited')
  })
})

describe.runIf(redisUrl !== null)('when Redis goes away', () => {
  it('keeps serving (unlimited, one warning logged) and resumes limiting when Redis returns', async () => {
    // a network failure between the app and Redis, cut and restored by the test
    const proxy = createTcpProxy(targetOf(REDIS_URL, 6379))
    await proxy.start()
    const logs: { level: number; msg: string }[] = []
    const logger = (await import('pino')).default(
      { level: 'info' },
      { write: (line: string) => logs.push(JSON.parse(line)) }
    )
    const app = await buildApp({
      config: testConfig({ ...LIMITS, REDIS_URL: throughProxy(REDIS_URL, proxy), LOG_LEVEL: 'info' }),
      database: t.context.db.database,
      ownsDatabase: false,
      logger,
      rateLimit: { keyPrefix: `tessera-test:${randomBytes(6).toString('hex')}:` },
    })
    extra.push(app)
    await app.ready()
    const { token } = await createLoggedInUser(app)
    for (let i = 0; i < 3; i++) expect((await ping(app, token)).statusCode).toBe(200)
    expectError(await ping(app, token), 429, 'rate_limited')

    await proxy.cut()
    for (let i = 0; i < 5; i++) expect((await ping(app, token)).statusCode).toBe(200)
    expect(logs.filter((entry) => entry.msg.startsWith('Redis unreachable'))).toHaveLength(1)

    await proxy.start()
    // the counter survived in Redis: once reconnected, the user is over budget again
    await vi.waitFor(async () => expectError(await ping(app, token), 429, 'rate_limited'), {
      timeout: 10_000,
      interval: 200,
    })
    expect(logs.some((entry) => entry.msg.startsWith('Redis reachable again'))).toBe(true)
    await proxy.cut()
  })
})
