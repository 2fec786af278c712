import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, login } from '../helpers/factories.js'
import { createClock, latestToken, mailsTo, RESET_SUBJECT, VERIFY_SUBJECT } from '../helpers/mail.js'

const clock = createClock()
const t = useTestApp({ now: clock.now })

const verify = (token: unknown) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/verify-email', payload: { token } })

function expectInvalidToken (response: Parameters<typeof expectError>[0]) {
  const body = expectError(response, 400, 'validation_failed')
  expect(body.details).toEqual([{ path: '/token', message: expect.stringMatching(/invalid, expired/) }])
}

describe('email verification', () => {
  it('mails a token at registration that verifies the address once', async () => {
    const user = await createUser(t.context.app)
    const mails = await mailsTo(t.context.app, user.email)
    expect(mails).toHaveLength(1)
    expect(mails[0]?.bodyText).toMatch(/Tessera/)
    const token = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    expect(token).toMatch(/^tsr_mail_/)

    const response = await verify(token)
    expect(response.statusCode).toBe(200)
    expect(response.json().user).toMatchObject({ id: user.id, email: user.email, emailVerified: true })

    expectInvalidToken(await verify(token))
    const stored = await t.context.app.database.sql`select token_hash from one_time_tokens`
    expect(stored.every((row) => !String(row.token_hash).includes(token))).toBe(true)
  })

  it('rolls the mail back with a registration that fails (409 leaves no mail)', async () => {
    const user = await createUser(t.context.app)
    const again = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      payload: { email: 'other@example.com', username: user.username, password: 'Another-pass-123!' },
    })
    expectError(again, 409, 'username_taken')
    expect(await mailsTo(t.context.app, 'other@example.com')).toEqual([])
  })

  it('refuses an expired token', async () => {
    const user = await createUser(t.context.app)
    const token = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    clock.advanceSeconds(t.context.app.tessera.config.emailVerificationTtlSeconds + 1)
    expectInvalidToken(await verify(token))
  })

  it('honours a configured lifetime', async () => {
    await t.setup({ env: { EMAIL_VERIFICATION_TTL_SECONDS: '60' } })
    const user = await createUser(t.context.app)
    const token = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    clock.advanceSeconds(61)
    expectInvalidToken(await verify(token))
  })

  it('refuses a token of another purpose, a malformed one and an unknown one', async () => {
    const user = await createUser(t.context.app)
    await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset',
      payload: { email: user.email },
    })
    const resetToken = await latestToken(t.context.app, user.email, RESET_SUBJECT)
    expectInvalidToken(await verify(resetToken))
    expectInvalidToken(await verify('not-a-token'))
    expectInvalidToken(await verify(`${resetToken.slice(0, -6)}AAAAAA`))
    // the reset token was not spent by the attempt
    const reset = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token: resetToken, password: 'A-brand-new-passphrase-1' },
    })
    expect(reset.statusCode).toBe(204)
  })

  it('verifies only the user the token was issued to, and once under concurrency', async () => {
    const alice = await createUser(t.context.app)
    const bob = await createUser(t.context.app)
    const token = await latestToken(t.context.app, alice.email, VERIFY_SUBJECT)
    const [first, second] = await Promise.all([verify(token), verify(token)])
    const statuses = [first.statusCode, second.statusCode].sort()
    expect(statuses).toEqual([200, 400])
    const rows = await t.context.app.database.sql<{ id: string; verified: boolean }[]>`
      select id, email_verified_at is not null as verified from users order by id`
    expect(Object.fromEntries(rows.map((row) => [row.id, row.verified]))).toEqual({
      [alice.id]: true,
      [bob.id]: false,
    })
  })

  it('POST /v1/me/verify-email sends a new mail and retires the older one', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const first = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/verify-email',
      headers: bearer(session),
    })
    expect(response.statusCode).toBe(202)
    expect(response.json()).toEqual({ status: 'accepted', message: expect.any(String) })
    const second = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    expect(second).not.toBe(first)
    expectInvalidToken(await verify(first))
    expect((await verify(second)).statusCode).toBe(200)
  })

  it('POST /v1/me/verify-email answers 202 without a mail once verified', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    expect((await verify(await latestToken(t.context.app, user.email, VERIFY_SUBJECT))).statusCode).toBe(200)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/verify-email',
      headers: bearer(session),
    })
    expect(response.statusCode).toBe(202)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(1)
  })

  it('POST /v1/me/verify-email needs a token with profile:write', async () => {
    expectError(
      await t.context.app.inject({ method: 'POST', url: '/v1/me/verify-email' }),
      401,
      'token_missing'
    )
  })

  it('with REQUIRE_EMAIL_VERIFICATION, login answers 403 email_unverified until verified', async () => {
    await t.setup({ env: { REQUIRE_EMAIL_VERIFICATION: 'true' } })
    const user = await createUser(t.context.app)
    const refused = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: user.password },
    })
    expectError(refused, 403, 'email_unverified')
    await verify(await latestToken(t.context.app, user.email, VERIFY_SUBJECT))
    expect((await login(t.context.app, user)).token).toMatch(/^tsr_sess_/)
  })

  it('records email.verified', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    await verify(await latestToken(t.context.app, user.email, VERIFY_SUBJECT))
    const events = await t.context.app.inject({ url: '/v1/me/events', headers: bearer(session) })
    expect(events.json().events[0]).toMatchObject({ type: 'email.verified', userId: user.id })
  })
})
