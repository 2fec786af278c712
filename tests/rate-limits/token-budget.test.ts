import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { buildTestApp, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError, ping } from '../helpers/factories.js'
import { testRedisUrl } from '../helpers/redis.js'
import { createPersonalToken, listTokens } from '../helpers/tokens.js'

// the in-memory store; the last suite shares counters through Redis
const LIMITS = { RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_SECONDS: '60', RATE_LIMIT_ANON_MAX: '100' }
const t = useTestApp({ env: LIMITS })
const SCOPES = ['profile:read', 'tokens:read']

const createToken = (app: FastifyInstance, token: string, payload: Record<string, unknown>) =>
  app.inject({ method: 'POST', url: '/v1/me/tokens', headers: bearer(token), payload: { name: 'tool', scopes: SCOPES, ...payload } })

/** An operator's override for the user, set through the admin API. */
async function setUserLimit (userId: string, limit: { max: number; windowSeconds: number }) {
  const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
  const response = await t.context.app.inject({
    method: 'PUT',
    url: `/v1/admin/users/${userId}/rate-limit`,
    headers: bearer(admin.token),
    payload: limit,
  })
  expect(response.statusCode, response.body).toBe(200)
}

async function expectServed (app: FastifyInstance, token: string, times: number) {
  for (let i = 0; i < times; i++) expect((await ping(app, token)).statusCode).toBe(200)
}

describe('creating a token with a budget', () => {
  it('returns and lists the budget; a token without one shows null', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const created = await createToken(t.context.app, token, { rateLimit: { max: 2, windowSeconds: 60 } })
    expect(created.statusCode).toBe(201)
    expect(created.json().tokenInfo.rateLimit).toEqual({ max: 2, windowSeconds: 60 })
    const plain = await createPersonalToken(t.context.app, token, { scopes: SCOPES })
    const listed = await listTokens(t.context.app, token)
    expect(listed.find((x) => x.id === created.json().tokenInfo.id)?.rateLimit).toEqual({ max: 2, windowSeconds: 60 })
    expect(listed.find((x) => x.id === plain.id)?.rateLimit).toBeNull()
  })

  it('accepts rateLimit null as no budget of its own', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const created = await createToken(t.context.app, token, { rateLimit: null })
    expect(created.statusCode).toBe(201)
    expect(created.json().tokenInfo.rateLimit).toBeNull()
  })

  it('accepts a budget at exactly the user’s rate scaled to its window (10/60 s → 1/6 s)', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const created = await createToken(t.context.app, token, { rateLimit: { max: 1, windowSeconds: 6 } })
    expect(created.statusCode).toBe(201)
  })

  it.each([
    ['more per window than the user', { max: 11, windowSeconds: 60 }, 'at most 10 requests per 60 seconds'],
    ['a faster rate in a shorter window', { max: 2, windowSeconds: 6 }, 'at most 1 requests per 6 seconds'],
    ['a faster rate in a longer window', { max: 1201, windowSeconds: 7200 }, 'at most 1200 requests per 7200 seconds'],
  ])('answers 400 validation_failed at /rateLimit/max for %s', async (_case, rateLimit, allowed) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await createToken(t.context.app, token, { rateLimit })
    const body = expectError(response, 400, 'validation_failed')
    expect(body.message).toContain(allowed)
    expect(body.details).toEqual([{ path: '/rateLimit/max', message: expect.stringContaining(allowed) }])
    expect(await listTokens(t.context.app, token)).toHaveLength(1)
  })

  it("measures against the user's override, not the default", async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    await setUserLimit(user.id, { max: 100, windowSeconds: 60 })
    expect((await createToken(t.context.app, token, { rateLimit: { max: 100, windowSeconds: 60 } })).statusCode).toBe(201)
    const over = await createToken(t.context.app, token, { rateLimit: { max: 101, windowSeconds: 60 } })
    expect(expectError(over, 400, 'validation_failed').details).toEqual([
      { path: '/rateLimit/max', message: expect.stringContaining('at most 100 requests per 60 seconds') },
    ])
  })

  it('lets an unlimited user (an admin) give any budget', async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    const created = await createToken(t.context.app, admin.token, { rateLimit: { max: 1_000_000_000, windowSeconds: 1 } })
    expect(created.statusCode).toBe(201)
  })

  it.each([
    ['window 0', { max: 1, windowSeconds: 0 }, '/rateLimit/windowSeconds'],
    ['window over a day', { max: 1, windowSeconds: 86_401 }, '/rateLimit/windowSeconds'],
    ['max 0', { max: 0, windowSeconds: 60 }, '/rateLimit/max'],
    ['negative max', { max: -1, windowSeconds: 60 }, '/rateLimit/max'],
    ['fractional max', { max: 1.5, windowSeconds: 60 }, '/rateLimit/max'],
    ['max as a string', { max: '5', windowSeconds: 60 }, '/rateLimit/max'],
    ['no window', { max: 5 }, '/rateLimit/windowSeconds'],
    ['not an object', 5, '/rateLimit'],
  ])('answers 400 validation_failed for %s', async (_case, rateLimit, path) => {
    const { token } = await createLoggedInUser(t.context.app)
    const body = expectError(await createToken(t.context.app, token, { rateLimit }), 400, 'validation_failed')
    expect((body.details as Array<{ path: string }>).map((d) => d.path)).toContain(path)
    expect(await listTokens(t.context.app, token)).toHaveLength(1)
  })
})

describe('counting a token with a budget', () => {
  it('refuses the token past its budget while another token of the user still works', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const tool = await createPersonalToken(t.context.app, token, { scopes: SCOPES, rateLimit: { max: 2, windowSeconds: 60 } })
    const first = await ping(t.context.app, tool.token)
    expect(first.headers['x-ratelimit-limit']).toBe('2')
    expect(first.headers['x-ratelimit-remaining']).toBe('1')
    expect((await ping(t.context.app, tool.token)).statusCode).toBe(200)
    const refused = await ping(t.context.app, tool.token)
    expectError(refused, 429, 'rate_limited')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(refused.headers['x-ratelimit-limit']).toBe('2')
    expect(refused.headers['x-ratelimit-remaining']).toBe('0')
    // the session has the user's budget alone: 10, spent by the creation, the tool's 3 and this one
    const session = await ping(t.context.app, token)
    expect(session.statusCode).toBe(200)
    expect(session.headers['x-ratelimit-limit']).toBe('10')
    expect(session.headers['x-ratelimit-remaining']).toBe('5')
  })

  it("spends the user's budget too, and is refused once the user's is spent", async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const tool = await createPersonalToken(t.context.app, token, { scopes: SCOPES, rateLimit: { max: 8, windowSeconds: 60 } })
    // 1 request (the creation) + 6 pings: the user has 3 left, the tool 2
    await expectServed(t.context.app, token, 6)
    const shown = await ping(t.context.app, tool.token)
    // the tighter of the two: the user's, with 2 left against the tool's 7
    expect(shown.headers['x-ratelimit-limit']).toBe('10')
    expect(shown.headers['x-ratelimit-remaining']).toBe('2')
    await expectServed(t.context.app, tool.token, 2)
    expectError(await ping(t.context.app, tool.token), 429, 'rate_limited')
    expectError(await ping(t.context.app, token), 429, 'rate_limited')
  })

  it("keeps its budget when the user's limit drops below it: the user's binds", async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const tool = await createPersonalToken(t.context.app, token, { scopes: SCOPES, rateLimit: { max: 5, windowSeconds: 60 } })
    await setUserLimit(user.id, { max: 2, windowSeconds: 60 })
    // the creation spent one of the user's 2
    const last = await ping(t.context.app, tool.token)
    expect(last.statusCode).toBe(200)
    expect(last.headers['x-ratelimit-limit']).toBe('2')
    expect(last.headers['x-ratelimit-remaining']).toBe('0')
    expectError(await ping(t.context.app, tool.token), 429, 'rate_limited')
    const stored = await t.context.db.database.sql`
      select rate_limit_max as max, rate_limit_window_seconds as "windowSeconds" from auth_tokens where id = ${tool.id}`
    expect(stored).toEqual([{ max: 5, windowSeconds: 60 }])
  })

  it("holds an unlimited admin's token to its own budget", async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    const tool = await createPersonalToken(t.context.app, admin.token, { scopes: SCOPES, rateLimit: { max: 2, windowSeconds: 60 } })
    await expectServed(t.context.app, tool.token, 2)
    expectError(await ping(t.context.app, tool.token), 429, 'rate_limited')
    // the admin's session stays unlimited: no budget headers
    const session = await ping(t.context.app, admin.token)
    expect(session.statusCode).toBe(200)
    expect(session.headers['x-ratelimit-limit']).toBeUndefined()
  })
})

const redisUrl = testRedisUrl()
const extra: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(extra.splice(0).map((app) => app.close()))
})

describe.runIf(redisUrl !== null)('with Redis, across instances', () => {
  it("shares a token's budget between two instances, and its user's too", async () => {
    const options = {
      env: { ...LIMITS, REDIS_URL: redisUrl ?? '' },
      rateLimit: { keyPrefix: `tessera-test:${randomBytes(6).toString('hex')}:` },
    }
    const a = await buildTestApp(t.context.db.database, options)
    const b = await buildTestApp(t.context.db.database, options)
    extra.push(a, b)
    const { token } = await createLoggedInUser(a)
    const tool = await createPersonalToken(b, token, { scopes: SCOPES, rateLimit: { max: 3, windowSeconds: 60 } })
    // sent at once: each instance batches the token's and the user's counts into one Redis call
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => ping(i % 2 ? a : b, tool.token)))
    const served = responses.filter((response) => response.statusCode === 200)
    expect(served.map((response) => response.headers['x-ratelimit-remaining']).sort()).toEqual(['0', '1', '2'])
    for (const refused of responses.filter((response) => response.statusCode !== 200)) {
      expectError(refused, 429, 'rate_limited')
    }
    // 1 creation + 6 pings of the user's 10, on both instances
    const session = await ping(a, token)
    expect(session.statusCode).toBe(200)
    expect(session.headers['x-ratelimit-remaining']).toBe('2')
  })
})
