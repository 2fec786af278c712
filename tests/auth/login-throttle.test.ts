import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { createUser, expectError } from '../helpers/factories.js'

let clock = new Date('2030-01-01T00:00:00Z')
// in-memory counters on the injected clock; tests/rate-limits/redis.test.ts covers Redis
const t = useTestApp({
  env: { LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_SECONDS: '600' },
  now: () => clock,
})

const attempt = (username: string, password: string, remoteAddress = '127.0.0.1') =>
  t.context.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username, password },
    remoteAddress,
  })

describe('login throttling per account name', () => {
  it('answers 429 after LOGIN_MAX_FAILURES failures, even with the right password, from any IP', async () => {
    const user = await createUser(t.context.app)
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      expectError(await attempt(user.username, 'wrong-password', ip), 401, 'invalid_credentials')
    }
    const right = await attempt(user.username.toUpperCase(), user.password, '10.0.0.4')
    expectError(right, 429, 'rate_limited')
    expect(right.headers['retry-after']).toBe('600')
    // another account is unaffected
    const other = await createUser(t.context.app)
    expect((await attempt(other.username, other.password)).statusCode).toBe(200)
  })

  it('throttles unknown names the same way', async () => {
    for (let i = 0; i < 3; i++) {
      expectError(await attempt('no_such_user', 'whatever'), 401, 'invalid_credentials')
    }
    expectError(await attempt('no_such_user', 'whatever'), 429, 'rate_limited')
  })

  it('lets the account in again once the window has passed', async () => {
    const user = await createUser(t.context.app)
    for (let i = 0; i < 4; i++) await attempt(user.username, 'wrong-password')
    expectError(await attempt(user.username, user.password), 429, 'rate_limited')
    clock = new Date(clock.getTime() + 601_000)
    expect((await attempt(user.username, user.password)).statusCode).toBe(200)
  })

  it('does not count a successful login as a failure', async () => {
    const user = await createUser(t.context.app)
    await attempt(user.username, 'wrong-password')
    await attempt(user.username, 'wrong-password')
    expect((await attempt(user.username, user.password)).statusCode).toBe(200)
    expectError(await attempt(user.username, 'wrong-password'), 401, 'invalid_credentials')
    expectError(await attempt(user.username, user.password), 429, 'rate_limited')
  })
})
