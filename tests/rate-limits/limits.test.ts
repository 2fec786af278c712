import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, login, ping } from '../helpers/factories.js'

// the in-memory store (no REDIS_URL); tests/rate-limits/redis.test.ts covers the shared one
const t = useTestApp({
  env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_ANON_MAX: '100', RATE_LIMIT_WINDOW_SECONDS: '60' },
})

async function exhaust (app: FastifyInstance, token: string, times: number) {
  for (let i = 0; i < times; i++) expect((await ping(app, token)).statusCode).toBe(200)
}

afterEach(() => {
  vi.useRealTimers()
})

describe('per-user budgets', () => {
  it('counts down in x-ratelimit headers, then answers 429 rate_limited with retry-after', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const remaining: string[] = []
    for (let i = 0; i < 3; i++) {
      const response = await ping(t.context.app, token)
      expect(response.statusCode).toBe(200)
      expect(response.headers['x-ratelimit-limit']).toBe('3')
      expect(Number(response.headers['x-ratelimit-reset'])).toBeGreaterThan(0)
      remaining.push(String(response.headers['x-ratelimit-remaining']))
    }
    expect(remaining).toEqual(['2', '1', '0'])
    const refused = await ping(t.context.app, token)
    const body = expectError(refused, 429, 'rate_limited')
    expect(body.error).toBe('Too Many Requests')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60)
    expect(refused.headers['x-ratelimit-remaining']).toBe('0')
  })

  it("shares one budget between a user's tokens and leaves other users alone", async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const second = await login(t.context.app, user)
    const other = await createLoggedInUser(t.context.app)
    await exhaust(t.context.app, token, 2)
    expect((await ping(t.context.app, second.token)).statusCode).toBe(200)
    expectError(await ping(t.context.app, second.token), 429, 'rate_limited')
    expectError(await ping(t.context.app, token), 429, 'rate_limited')
    expect((await ping(t.context.app, other.token)).statusCode).toBe(200)
  })

  it('keys an authenticated user by id, not IP: a new address does not reset the budget', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    await exhaust(t.context.app, token, 3)
    expectError(await ping(t.context.app, token, { remoteAddress: '10.9.9.9' }), 429, 'rate_limited')
  })

  it('gives a fresh budget once the window has passed', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    vi.useFakeTimers({ toFake: ['Date'] })
    await exhaust(t.context.app, token, 3)
    expectError(await ping(t.context.app, token), 429, 'rate_limited')
    vi.setSystemTime(Date.now() + 61_000)
    expect((await ping(t.context.app, token)).statusCode).toBe(200)
  })
})

describe('anonymous budgets per IP', () => {
  beforeEach(async () => {
    await t.setup({ env: { RATE_LIMIT_ANON_MAX: '2' } })
  })

  it('counts missing and refused tokens per IP, so guessing tokens ends in 429', async () => {
    const app = t.context.app
    expectError(await app.inject({ url: '/v1/ping' }), 401, 'token_missing')
    expectError(await ping(app, 'tsr_sess_guess'), 401, 'token_invalid')
    const third = await ping(app, 'tsr_sess_guess')
    expectError(third, 429, 'rate_limited')
    expect(Number(third.headers['retry-after'])).toBeGreaterThan(0)
    // another address has its own budget
    expectError(await ping(app, 'tsr_sess_guess', { remoteAddress: '10.0.0.7' }), 401, 'token_invalid')
  })

  it('limits anonymous routes such as register by IP', async () => {
    await createUser(t.context.app)
    await createUser(t.context.app)
    const third = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: 'x@example.com', username: 'someone', password: 'a-Long-unusual-passw0rd' },
    })
    expectError(third, 429, 'rate_limited')
  })

  it('ignores X-Forwarded-For without TRUST_PROXY', async () => {
    for (const forwarded of ['1.1.1.1', '2.2.2.2']) {
      expectError(
        await t.context.app.inject({ url: '/v1/ping', headers: { 'x-forwarded-for': forwarded } }),
        401,
        'token_missing'
      )
    }
    const spoofed = await t.context.app.inject({ url: '/v1/ping', headers: { 'x-forwarded-for': '3.3.3.3' } })
    expectError(spoofed, 429, 'rate_limited')
  })

  it('keys by the forwarded client address with TRUST_PROXY=true', async () => {
    await t.setup({ env: { RATE_LIMIT_ANON_MAX: '2', TRUST_PROXY: 'true' } })
    for (const forwarded of ['1.1.1.1', '1.1.1.1', '2.2.2.2']) {
      expectError(
        await t.context.app.inject({ url: '/v1/ping', headers: { 'x-forwarded-for': forwarded } }),
        401,
        'token_missing'
      )
    }
    const third = await t.context.app.inject({ url: '/v1/ping', headers: { 'x-forwarded-for': '1.1.1.1' } })
    expectError(third, 429, 'rate_limited')
  })

  it('counts an IPv6 client by its /64, so rotating addresses within it does not reset the budget', async () => {
    await t.setup({ env: { RATE_LIMIT_ANON_MAX: '2', TRUST_PROXY: 'true' } })
    const from = (address: string) =>
      t.context.app.inject({ url: '/v1/ping', headers: { 'x-forwarded-for': address } })
    expectError(await from('2001:db8:1:2::1'), 401, 'token_missing')
    expectError(await from('2001:db8:1:2:ffff::9'), 401, 'token_missing')
    expectError(await from('2001:db8:1:2::abcd'), 429, 'rate_limited')
    // another /64 has its own budget
    expectError(await from('2001:db8:1:3::1'), 401, 'token_missing')
  })

  it('limits unknown routes too (the 404 handler), in the error shape', async () => {
    const first = await t.context.app.inject({ url: '/v1/nothing-here' })
    expectError(first, 404, 'not_found')
    expect(first.headers['x-ratelimit-limit']).toBe('2')
    await t.context.app.inject({ url: '/wp-admin' })
    expectError(await t.context.app.inject({ url: '/v1/nothing-here' }), 429, 'rate_limited')
  })

  it('never limits /health and /docs', async () => {
    for (let i = 0; i < 5; i++) {
      const health = await t.context.app.inject({ url: '/health' })
      expect(health.statusCode).toBe(200)
      expect(health.headers['x-ratelimit-limit']).toBeUndefined()
      expect((await t.context.app.inject({ url: '/docs/json' })).statusCode).toBe(200)
    }
  })
})

describe('overrides set by an admin', () => {
  const setLimit = (app: FastifyInstance, adminToken: string, userId: string, body: object) =>
    app.inject({
      method: 'PUT',
      url: `/v1/admin/users/${userId}/rate-limit`,
      headers: bearer(adminToken),
      payload: body,
    })

  it('applies an override on the next request, then unlimited, zero and clear', async () => {
    const app = t.context.app
    const admin = await createLoggedInAdmin(app, t.context.db.database)
    const { user, token } = await createLoggedInUser(app)
    await exhaust(app, token, 1) // caches "no override" for the user

    const set = await setLimit(app, admin.token, user.id, { max: 5, windowSeconds: 120 })
    expect(set.statusCode).toBe(200)
    expect(set.json()).toEqual({ max: 5, windowSeconds: 120, source: 'user' })
    const next = await ping(app, token)
    expect(next.headers['x-ratelimit-limit']).toBe('5')
    const me = await app.inject({ url: '/v1/me/rate-limit', headers: bearer(token) })
    expect(me.json()).toEqual({ max: 5, windowSeconds: 120, source: 'user' })

    await setLimit(app, admin.token, user.id, { max: null, windowSeconds: 60 })
    for (let i = 0; i < 8; i++) {
      const response = await ping(app, token)
      expect(response.statusCode).toBe(200)
      expect(response.headers['x-ratelimit-limit']).toBeUndefined()
    }

    await setLimit(app, admin.token, user.id, { max: 0, windowSeconds: 60 })
    expectError(await ping(app, token), 429, 'rate_limited')

    const cleared = await app.inject({
      method: 'DELETE',
      url: `/v1/admin/users/${user.id}/rate-limit`,
      headers: bearer(admin.token),
    })
    expect(cleared.statusCode).toBe(204)
    // back to the default of 3, and this window's requests still count against it
    const back = await ping(app, token)
    expectError(back, 429, 'rate_limited')
    expect(back.headers['x-ratelimit-limit']).toBe('3')
    const admins = await app.inject({
      url: `/v1/admin/users/${user.id}/rate-limit`,
      headers: bearer(admin.token),
    })
    expect(admins.json()).toEqual({ max: 3, windowSeconds: 60, source: 'default' })
  })

  it('leaves admins unlimited by default and limits them with RATE_LIMIT_ADMIN_MAX', async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    for (let i = 0; i < 6; i++) expect((await ping(t.context.app, admin.token)).statusCode).toBe(200)
    const own = await t.context.app.inject({ url: '/v1/me/rate-limit', headers: bearer(admin.token) })
    expect(own.json()).toEqual({ max: null, windowSeconds: 60, source: 'role' })

    await t.setup({ env: { RATE_LIMIT_ADMIN_MAX: '4' } })
    const limited = await createLoggedInAdmin(t.context.app, t.context.db.database)
    await exhaust(t.context.app, limited.token, 4)
    expectError(await ping(t.context.app, limited.token), 429, 'rate_limited')
  })

  it('records rate_limit.changed events', async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    const user = await createUser(t.context.app)
    await setLimit(t.context.app, admin.token, user.id, { max: 9, windowSeconds: 30 })
    const events = await t.context.db.database.sql`
      select data from security_events where type = 'rate_limit.changed' and user_id = ${user.id}`
    expect(events.map((e) => e.data)).toEqual([{ by: admin.user.id, max: 9, windowSeconds: 30 }])
  })
})

describe('with rate limiting switched off (benchmarks)', () => {
  it('serves without limits or headers', async () => {
    await t.setup({ rateLimit: { enabled: false } })
    const { token } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 5; i++) {
      const response = await ping(t.context.app, token)
      expect(response.statusCode).toBe(200)
      expect(response.headers['x-ratelimit-limit']).toBeUndefined()
    }
  })
})
