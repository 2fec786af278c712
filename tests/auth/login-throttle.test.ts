import { beforeEach, describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError } from '../helpers/factories.js'

const START = new Date('2030-01-01T00:00:00Z')
let clock = START
// in-memory counters on the injected clock; tests/rate-limits/redis.test.ts covers Redis
const t = useTestApp({
  env: { LOGIN_MAX_FAILURES: '3', LOGIN_FAILURE_WINDOW_SECONDS: '600' },
  now: () => clock,
})
// every test starts at the same time, whatever the one before it did to the clock
beforeEach(() => {
  clock = START
})

const attempt = (username: string, password: string, remoteAddress = '127.0.0.1') =>
  t.context.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username, password },
    remoteAddress,
  })

const attemptByEmail = (email: string, password: string) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password } })

const changePassword = (token: string, currentPassword: string) =>
  t.context.app.inject({
    method: 'PUT',
    url: '/v1/me/password',
    headers: bearer(token),
    payload: { currentPassword, newPassword: 'A-brand-new-passphrase-1' },
  })

const changeEmail = (token: string, currentPassword: string) =>
  t.context.app.inject({
    method: 'PATCH',
    url: '/v1/me',
    headers: bearer(token),
    payload: { email: 'elsewhere@example.com', currentPassword },
  })

const failedLoginEvents = () => t.context.app.database.sql<{ userId: string | null; tokenId: string | null; data: unknown }[]>`
  select user_id as "userId", token_id as "tokenId", data from security_events
  where type = 'login.failed' order by created_at, id`

// PostgreSQL's lower() (citext, C.UTF-8) maps 'İ' (U+0130) to 'i'; JavaScript's toLowerCase to 'i̇'
const irina = { username: 'irina', email: 'Irina@Example.com' }

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

describe('one login budget per account, whichever name is typed', () => {
  it('logs in to one account with its username or email in any case or Unicode spelling', async () => {
    const user = await createUser(t.context.app, irina)
    for (const username of ['irina', 'IRINA', 'İrina']) {
      expect((await attempt(username, user.password)).statusCode).toBe(200)
    }
    expect((await attemptByEmail('İRINA@example.COM', user.password)).statusCode).toBe(200)
  })

  it('answers 429 after failures spread over the username, the email in another case and a Unicode spelling', async () => {
    const user = await createUser(t.context.app, irina)
    expectError(await attempt('irina', 'wrong-password'), 401, 'invalid_credentials')
    expectError(await attemptByEmail('IRINA@EXAMPLE.COM', 'wrong-password'), 401, 'invalid_credentials')
    expectError(await attempt('İrina', 'wrong-password'), 401, 'invalid_credentials')
    for (const right of [attempt('irina', user.password), attemptByEmail(user.email, user.password)]) {
      const response = await right
      expectError(response, 429, 'rate_limited')
      expect(response.headers['retry-after']).toBe('600')
    }
  })

  it('throttles spellings of an unknown name together, as it would an existing one', async () => {
    // otherwise whether two spellings share a budget would tell existing names from unknown ones
    for (let i = 0; i < 3; i++) await attempt('İrina', 'wrong-password')
    expectError(await attempt('irina', 'wrong-password'), 429, 'rate_limited')
  })

  it("answers LOGIN_MAX_FAILURES of concurrent guesses spread over the account's names, 429 to the rest", async () => {
    await createUser(t.context.app, irina)
    const guesses = [
      attempt('irina', 'wrong'), attempt('IRINA', 'wrong'), attempt('İrina', 'wrong'), attempt('Irina', 'wrong'),
      attemptByEmail('irina@example.com', 'wrong'), attemptByEmail('IRINA@EXAMPLE.COM', 'wrong'),
      attemptByEmail('İrina@example.com', 'wrong'), attemptByEmail('Irina@Example.com', 'wrong'),
    ]
    const responses = await Promise.all(guesses)
    const statuses = responses.map((response) => response.statusCode).sort()
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429, 429, 429])
  })
})

describe('login.failed events', () => {
  it("record an existing account's id and a reason, and nothing of an unknown name", async () => {
    const user = await createUser(t.context.app)
    await attempt(user.username.toUpperCase(), 'wrong-password')
    // a password typed into the name field must not land in the audit log
    await attempt('Correct-Horse-Battery-9', 'wrong-password')
    await attemptByEmail('nobody@example.com', 'wrong-password')
    const events = await failedLoginEvents()
    expect(events).toEqual([
      { userId: user.id, tokenId: null, data: { reason: 'bad_password' } },
      { userId: null, tokenId: null, data: { reason: 'unknown_account' } },
      { userId: null, tokenId: null, data: { reason: 'unknown_account' } },
    ])
  })
})

describe('currentPassword guesses count as failed logins of the account', () => {
  it('answers 429 to PUT /v1/me/password after LOGIN_MAX_FAILURES wrong ones, even with the right one', async () => {
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 3; i++) expectError(await changePassword(token, 'wrong-password'), 403, 'invalid_credentials')
    const right = await changePassword(token, user.password)
    expectError(right, 429, 'rate_limited')
    expect(right.headers['retry-after']).toBe('600')
    // the same budget as logging in: the password still works nowhere until the window ends
    expectError(await attemptByEmail(user.email, user.password), 429, 'rate_limited')
    // recorded although each wrong guess rolled its transaction back
    expect(await failedLoginEvents()).toEqual(
      Array.from({ length: 3 }, () => ({ userId: user.id, tokenId, data: { reason: 'password_change' } }))
    )
  })

  it('answers 429 to an email change after LOGIN_MAX_FAILURES wrong ones, even with the right one', async () => {
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 3; i++) expectError(await changeEmail(token, 'wrong-password'), 403, 'invalid_credentials')
    expectError(await changeEmail(token, user.password), 429, 'rate_limited')
    expect(await failedLoginEvents()).toEqual(
      Array.from({ length: 3 }, () => ({ userId: user.id, tokenId, data: { reason: 'email_change' } }))
    )
  })

  it('shares the budget with failed logins, and does not count a right one', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    await attempt(user.username, 'wrong-password')
    await changeEmail(token, 'wrong-password')
    expect((await changeEmail(token, user.password)).statusCode).toBe(200)
    expectError(await changePassword(token, 'wrong-password'), 403, 'invalid_credentials')
    expectError(await changePassword(token, user.password), 429, 'rate_limited')
  })
})
