import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, expectLoginWorks, login } from '../helpers/factories.js'
import { createClock, latestToken, mailsTo, RESET_SUBJECT, VERIFY_SUBJECT } from '../helpers/mail.js'

const clock = createClock()
const t = useTestApp({ now: clock.now })

const requestReset = (email: string) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } })
const confirm = (token: string, password = 'A-brand-new-passphrase-1') =>
  t.context.app.inject({
    method: 'POST',
    url: '/v1/auth/password-reset/confirm',
    payload: { token, password },
  })

async function resetToken (email: string) {
  expect((await requestReset(email)).statusCode).toBe(202)
  return latestToken(t.context.app, email, RESET_SUBJECT)
}

describe('password reset', () => {
  it('sets the password, revokes every token and tells the user', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const token = await resetToken(user.email.toUpperCase())
    const response = await confirm(token)
    expect(response.statusCode).toBe(204)
    expect(response.body).toBe('')

    expectError(await t.context.app.inject({ url: '/v1/me', headers: bearer(session) }), 401, 'token_revoked')
    const old = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: user.password },
    })
    expectError(old, 401, 'invalid_credentials')
    const fresh = await login(t.context.app, {
      username: user.username,
      password: 'A-brand-new-passphrase-1',
    })
    const subjects = (await mailsTo(t.context.app, user.email)).map((mail) => mail.subject)
    expect(subjects).toContain('Your Tessera password was reset')

    const events = await t.context.app.inject({ url: '/v1/me/events', headers: bearer(fresh.token) })
    expect(events.json().events.map((event: { type: string }) => event.type)).toContain('password.reset')
  })

  it('answers unknown addresses exactly like known ones, and mails only real accounts', async () => {
    const user = await createUser(t.context.app)
    const known = await requestReset(user.email)
    const unknown = await requestReset('nobody@example.com')
    expect(unknown.statusCode).toBe(known.statusCode)
    expect(unknown.statusCode).toBe(202)
    expect(unknown.body).toBe(known.body)
    expect(unknown.headers['content-type']).toBe(known.headers['content-type'])
    expect(await mailsTo(t.context.app, 'nobody@example.com')).toEqual([])
    expect(
      await t.context.app.database.sql`select 1 from one_time_tokens where email = 'nobody@example.com'`
    ).toHaveLength(0)
  })

  it('is single use, and only the newest token works', async () => {
    const user = await createUser(t.context.app)
    const first = await resetToken(user.email)
    const second = await resetToken(user.email)
    expectError(await confirm(first), 400, 'validation_failed')
    expect((await confirm(second)).statusCode).toBe(204)
    const reused = expectError(await confirm(second, 'Yet-another-passphrase-2'), 400, 'validation_failed')
    expect(reused.details).toEqual([{ path: '/token', message: expect.any(String) }])
  })

  it('succeeds once for two concurrent uses of one token', async () => {
    const user = await createUser(t.context.app)
    const token = await resetToken(user.email)
    const results = await Promise.all([
      confirm(token, 'First-new-passphrase-1'),
      confirm(token, 'Second-new-passphrase-2'),
    ])
    expect(results.map((r) => r.statusCode).sort()).toEqual([204, 400])
    const winner = results[0]?.statusCode === 204 ? 'First-new-passphrase-1' : 'Second-new-passphrase-2'
    await expectLoginWorks(t.context.app, { username: user.username, password: winner })
  })

  it('expires after PASSWORD_RESET_TTL_SECONDS', async () => {
    await t.setup({ env: { PASSWORD_RESET_TTL_SECONDS: '60' } })
    const user = await createUser(t.context.app)
    const token = await resetToken(user.email)
    clock.advanceSeconds(61)
    expectError(await confirm(token), 400, 'validation_failed')
  })

  it('changes only the password of the user the token was mailed to', async () => {
    const alice = await createUser(t.context.app)
    const bob = await createUser(t.context.app)
    expect((await confirm(await resetToken(alice.email))).statusCode).toBe(204)
    await expectLoginWorks(t.context.app, bob)
    await expectLoginWorks(t.context.app, { username: alice.username, password: 'A-brand-new-passphrase-1' })
  })

  it('refuses a verification token (another purpose)', async () => {
    const user = await createUser(t.context.app)
    const verification = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    expectError(await confirm(verification), 400, 'validation_failed')
  })

  it('keeps the token usable when the new password is refused', async () => {
    const user = await createUser(t.context.app)
    const token = await resetToken(user.email)
    const weak = expectError(await confirm(token, 'password123'), 400, 'validation_failed')
    expect(weak.details).toEqual([{ path: '/password', message: expect.any(String) }])
    expect((await confirm(token)).statusCode).toBe(204)
  })

  it('verifies the address, since the user read mail sent to it', async () => {
    await t.setup({ env: { REQUIRE_EMAIL_VERIFICATION: 'true' } })
    const user = await createUser(t.context.app)
    expect((await confirm(await resetToken(user.email))).statusCode).toBe(204)
    await expectLoginWorks(t.context.app, { username: user.username, password: 'A-brand-new-passphrase-1' })
  })
})
