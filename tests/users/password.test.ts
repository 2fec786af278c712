import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError, expectLoginWorks, login, ping } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

const t = useTestApp()
const NEW_PASSWORD = 'a-brand-new-Passphrase-42'

const changePassword = (token: string, payload: object) =>
  t.context.app.inject({ method: 'PUT', url: '/v1/me/password', headers: bearer(token), payload })
describe('PUT /v1/me/password', () => {
  it('changes the password, keeps the presenting token and revokes every other one', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const other = await login(t.context.app, user)
    const pat = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const response = await changePassword(token, {
      currentPassword: user.password,
      newPassword: NEW_PASSWORD,
    })
    expect(response.statusCode).toBe(204)
    expect((await ping(t.context.app, token)).statusCode).toBe(200)
    expectError(await ping(t.context.app, other.token), 401, 'token_revoked')
    expectError(await ping(t.context.app, pat.token), 401, 'token_revoked')
    await expectLoginWorks(t.context.app, { username: user.username, password: NEW_PASSWORD })
    const oldLogin = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: user.password },
    })
    expectError(oldLogin, 401, 'invalid_credentials')
    const { sql } = t.context.db.database
    const [event] = await sql`select * from security_events where type = 'password.changed'`
    expect(event).toMatchObject({ user_id: user.id, data: { revokedTokens: 2 } })
    const mails = await sql`select * from mail_outbox where subject like '%password%'`
    expect(mails).toHaveLength(1)
    expect(mails[0]).toMatchObject({ recipient: user.email })
    expect(mails[0]?.body_text).toContain('Tessera')
    expect(mails[0]?.body_text).not.toContain(NEW_PASSWORD)
  })

  it('answers 403 invalid_credentials for a wrong current password, changing nothing', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const other = await login(t.context.app, user)
    const response = await changePassword(token, {
      currentPassword: 'wrong-password',
      newPassword: NEW_PASSWORD,
    })
    expectError(response, 403, 'invalid_credentials')
    expect((await ping(t.context.app, other.token)).statusCode).toBe(200)
    expect((await ping(t.context.app, token)).statusCode).toBe(200)
    await expectLoginWorks(t.context.app, user)
  })

  it.each([
    ['a common password', 'password123'],
    ['the username', null],
  ])('answers 400 validation_failed at /newPassword for %s', async (_case, candidate) => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await changePassword(token, {
      currentPassword: user.password,
      newPassword: candidate ?? user.username,
    })
    const body = expectError(response, 400, 'validation_failed')
    expect(body.details).toEqual([{ path: '/newPassword', message: expect.any(String) }])
  })

  it.each([
    ['missing fields', {}],
    ['a short new password', { currentPassword: 'x', newPassword: 'short' }],
    ['a 10,000-character new password', { currentPassword: 'x', newPassword: 'p'.repeat(10_000) }],
    ['a number', { currentPassword: 12345678, newPassword: NEW_PASSWORD }],
    ['an empty current password', { currentPassword: '', newPassword: NEW_PASSWORD }],
  ])('answers 400 validation_failed for %s', async (_case, payload) => {
    const { token } = await createLoggedInUser(t.context.app)
    expectError(await changePassword(token, payload), 400, 'validation_failed')
  })

  it('needs profile:write: 403 insufficient_scope for a token without it', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const reader = await createPersonalToken(t.context.app, token, {
      scopes: ['profile:read', 'tokens:write'],
    })
    const response = await changePassword(reader.token, {
      currentPassword: user.password,
      newPassword: NEW_PASSWORD,
    })
    expectError(response, 403, 'insufficient_scope')
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="tessera", error="insufficient_scope", scope="profile:write"'
    )
  })

  it('answers 401 without a token', async () => {
    expectError(
      await t.context.app.inject({
        method: 'PUT',
        url: '/v1/me/password',
        payload: { currentPassword: 'whatever', newPassword: NEW_PASSWORD },
      }),
      401,
      'token_missing'
    )
  })
})
