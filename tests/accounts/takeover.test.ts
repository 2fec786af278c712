import type { InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, expectLoginWorks, login, ping, type TestUser } from '../helpers/factories.js'
import { CHANGE_SUBJECT, latestToken, mailsTo, RESET_SUBJECT, VERIFY_SUBJECT } from '../helpers/mail.js'

// one attacker and one victim log in repeatedly from one address: not what these tests are about
const t = useTestApp({ env: { RATE_LIMIT_ANON_MAX: '100000' } })

const ATTACKER_EMAIL = 'attacker@example.net'
const NEW_PASSWORD = 'A-brand-new-passphrase-1'

const inject = (options: InjectOptions) => t.context.app.inject(options)
const patchMe = (token: string, payload: object) =>
  inject({ method: 'PATCH', url: '/v1/me', headers: bearer(token), payload })
const verify = (token: string) => inject({ method: 'POST', url: '/v1/auth/verify-email', payload: { token } })
const requestReset = (email: string) =>
  inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } })
const confirmReset = (token: string, password = NEW_PASSWORD) =>
  inject({ method: 'POST', url: '/v1/auth/password-reset/confirm', payload: { token, password } })
const emailOf = async (userId: string) =>
  (await t.context.db.database.sql`select email from users where id = ${userId}`)[0]?.email

async function resetToken (email: string) {
  expect((await requestReset(email)).statusCode).toBe(202)
  return latestToken(t.context.app, email, RESET_SUBJECT)
}

/** The answer to a mailed token that was already used: every retired token must get exactly this. */
async function usedTokenAnswer () {
  const someone = await createUser(t.context.app)
  const token = await resetToken(someone.email)
  expect((await confirmReset(token)).statusCode).toBe(204)
  const reused = await confirmReset(token)
  expectError(reused, 400, 'validation_failed')
  return reused.json()
}

/** One unused mailed token of each purpose: verification, email change and password reset. */
async function pendingMailTokens (user: TestUser, session: string) {
  const verification = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)
  expect((await patchMe(session, { email: ATTACKER_EMAIL, currentPassword: user.password })).statusCode).toBe(200)
  const emailChange = await latestToken(t.context.app, ATTACKER_EMAIL, CHANGE_SUBJECT)
  const reset = await resetToken(user.email)
  return { verification, emailChange, reset }
}

async function expectAllRetired (tokens: { verification: string; emailChange: string; reset: string }) {
  const used = await usedTokenAnswer()
  expect((await verify(tokens.verification)).json()).toEqual(used)
  expect((await verify(tokens.emailChange)).json()).toEqual(used)
  expect((await confirmReset(tokens.reset, 'Yet-another-passphrase-2')).json()).toEqual(used)
}

describe('account takeover after recovery', () => {
  it('a password reset cancels the email change an attacker started: the mailed token is refused like a used one', async () => {
    const victim = await createUser(t.context.app)
    // the attacker once learnt the password, and moves the account to their own mailbox
    const attacker = await login(t.context.app, victim)
    const started = await patchMe(attacker.token, { email: ATTACKER_EMAIL, currentPassword: victim.password })
    expect(started.statusCode).toBe(200)
    const changeToken = await latestToken(t.context.app, ATTACKER_EMAIL, CHANGE_SUBJECT)

    // the victim is warned at the old address, and resets the password
    const warnings = (await mailsTo(t.context.app, victim.email)).filter((mail) =>
      mail.bodyText.includes(ATTACKER_EMAIL)
    )
    expect(warnings.map((mail) => mail.subject)).toEqual(['A change of your Tessera email address was requested'])
    expect((await confirmReset(await resetToken(victim.email))).statusCode).toBe(204)

    // the attacker's confirmation is refused exactly like a used token, and changes nothing
    const attempt = await verify(changeToken)
    expectError(attempt, 400, 'validation_failed')
    expect(attempt.json()).toEqual(await usedTokenAnswer())
    expect(await emailOf(victim.id)).toBe(victim.email)
    expectError(await ping(t.context.app, attacker.token), 401, 'token_revoked')

    // so a reset asked for at the attacker's address mails nothing, and the victim's password holds
    expect((await requestReset(ATTACKER_EMAIL)).statusCode).toBe(202)
    expect((await mailsTo(t.context.app, ATTACKER_EMAIL)).map((mail) => mail.subject)).toEqual([
      'Confirm your new email address for Tessera',
    ])
    await expectLoginWorks(t.context.app, { username: victim.username, password: NEW_PASSWORD })
  })

  it('a password reset retires every other unused mailed token of the user', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const tokens = await pendingMailTokens(user, session)
    const second = await resetToken(user.email) // retires the first reset token, as before
    expect((await confirmReset(second)).statusCode).toBe(204)
    await expectAllRetired(tokens)
  })

  it('a password change retires every unused mailed token of the user', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const tokens = await pendingMailTokens(user, session)
    const changed = await inject({
      method: 'PUT',
      url: '/v1/me/password',
      headers: bearer(session),
      payload: { currentPassword: user.password, newPassword: NEW_PASSWORD },
    })
    expect(changed.statusCode).toBe(204)
    await expectAllRetired(tokens)
    expect(await emailOf(user.id)).toBe(user.email)
  })

  it('disabling an account retires every unused mailed token: they stay refused after re-enabling', async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const tokens = await pendingMailTokens(user, session)
    for (const disabled of [true, false]) {
      const response = await inject({
        method: 'PATCH',
        url: `/v1/admin/users/${user.id}`,
        headers: bearer(admin.token),
        payload: { disabled },
      })
      expect(response.statusCode).toBe(200)
    }
    await expectAllRetired(tokens)
    expect(await emailOf(user.id)).toBe(user.email)
  })
})

describe('a disabled account', () => {
  const disableInDatabase = (userId: string) =>
    // as a disabling that commits between a token's issue and its use would leave it
    t.context.db.database.sql`update users set disabled = true where id = ${userId}`

  it('cannot complete a password reset, even with a token that was not retired', async () => {
    const user = await createUser(t.context.app)
    const token = await resetToken(user.email)
    await disableInDatabase(user.id)
    const refused = await confirmReset(token)
    expect(refused.json()).toEqual(await usedTokenAnswer())
    await t.context.db.database.sql`update users set disabled = false where id = ${user.id}`
    await expectLoginWorks(t.context.app, user)
  })

  it('cannot complete an email change, even with a token that was not retired', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    await patchMe(session, { email: 'elsewhere@example.com', currentPassword: user.password })
    const token = await latestToken(t.context.app, 'elsewhere@example.com', CHANGE_SUBJECT)
    await disableInDatabase(user.id)
    expect((await verify(token)).json()).toEqual(await usedTokenAnswer())
    expect(await emailOf(user.id)).toBe(user.email)
  })

  it('gets no reset mail', async () => {
    const user = await createUser(t.context.app)
    await disableInDatabase(user.id)
    expect((await requestReset(user.email)).statusCode).toBe(202)
    expect((await mailsTo(t.context.app, user.email)).map((mail) => mail.subject)).not.toContainEqual(
      expect.stringMatching(RESET_SUBJECT)
    )
  })

  it('a reset racing the disabling: never a 500, and the account ends disabled', async () => {
    const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
    for (let round = 0; round < 10; round++) {
      const user = await createUser(t.context.app)
      const token = await resetToken(user.email)
      const [disabling, reset] = await Promise.all([
        inject({
          method: 'PATCH',
          url: `/v1/admin/users/${user.id}`,
          headers: bearer(admin.token),
          payload: { disabled: true },
        }),
        confirmReset(token),
      ])
      expect(disabling.statusCode, disabling.body).toBe(200)
      // the reset either committed before the disabling or is refused after it
      if (reset.statusCode !== 204) expectError(reset, 400, 'validation_failed')
      const attempt = await inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { username: user.username, password: reset.statusCode === 204 ? NEW_PASSWORD : user.password },
      })
      expectError(attempt, 403, 'account_disabled')
    }
  })
})
