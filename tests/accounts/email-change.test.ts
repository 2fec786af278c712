import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError } from '../helpers/factories.js'
import { CHANGE_SUBJECT, latestToken, mailsTo } from '../helpers/mail.js'

const t = useTestApp()

const patchMe = (token: string, payload: object) =>
  t.context.app.inject({ method: 'PATCH', url: '/v1/me', headers: bearer(token), payload })
const verify = (token: string) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/verify-email', payload: { token } })

describe('email change (PATCH /v1/me {email, currentPassword})', () => {
  it('takes effect only when the new address confirms it, then tells the old one', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const response = await patchMe(session, { email: 'new@example.com', currentPassword: user.password })
    expect(response.statusCode).toBe(200)
    expect(response.json().user.email).toBe(user.email)

    const token = await latestToken(t.context.app, 'new@example.com', CHANGE_SUBJECT)
    const confirmed = await verify(token)
    expect(confirmed.statusCode).toBe(200)
    expect(confirmed.json().user).toMatchObject({ email: 'new@example.com', emailVerified: true })

    const notice = (await mailsTo(t.context.app, user.email)).at(-1)
    expect(notice?.subject).toBe('Your Tessera email address was changed')
    expect(notice?.bodyText).toContain('new@example.com')
    expect(notice?.bodyText).not.toMatch(/^token:/m)

    const types = (await t.context.app.inject({ url: '/v1/me/events', headers: bearer(session) }))
      .json()
      .events.map((event: { type: string }) => event.type)
    expect(types).toEqual(
      expect.arrayContaining(['email.change_requested', 'user.updated', 'email.verified'])
    )
  })

  it('tells the old address as soon as the change is requested', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const before = await mailsTo(t.context.app, user.email)
    const response = await patchMe(session, { email: 'new@example.com', currentPassword: user.password })
    expect(response.statusCode).toBe(200)
    const notices = (await mailsTo(t.context.app, user.email)).slice(before.length)
    expect(notices.map((mail) => mail.subject)).toEqual(['A change of your Tessera email address was requested'])
    expect(notices[0]?.bodyText).toContain('new@example.com')
    expect(notices[0]?.bodyText).toContain('reset your password')
    // no token for the old address: it can only stop the change, not confirm it
    expect(notices[0]?.bodyText).not.toMatch(/^token:/m)
  })

  it('answers 403 invalid_credentials for a wrong current password, and mails nothing', async () => {
    const { token: session } = await createLoggedInUser(t.context.app)
    const response = await patchMe(session, { email: 'new@example.com', currentPassword: 'wrong-password' })
    expectError(response, 403, 'invalid_credentials')
    expect(await mailsTo(t.context.app, 'new@example.com')).toEqual([])
  })

  it('answers 409 email_taken for an address in use, case-insensitively', async () => {
    const other = await createUser(t.context.app)
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const response = await patchMe(session, {
      email: other.email.toUpperCase(),
      currentPassword: user.password,
    })
    expectError(response, 409, 'email_taken')
  })

  it('answers 409 email_taken when the address was taken before the confirmation', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    await patchMe(session, { email: 'contested@example.com', currentPassword: user.password })
    const token = await latestToken(t.context.app, 'contested@example.com', CHANGE_SUBJECT)
    await createUser(t.context.app, { email: 'contested@example.com' })
    expectError(await verify(token), 409, 'email_taken')
    const me = await t.context.app.inject({ url: '/v1/me', headers: bearer(session) })
    expect(me.json().user.email).toBe(user.email)
  })

  it('needs email and currentPassword together', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const onlyEmail = expectError(
      await patchMe(session, { email: 'a@example.com' }),
      400,
      'validation_failed'
    )
    expect(onlyEmail.details).toEqual([{ path: '/currentPassword', message: expect.any(String) }])
    const onlyPassword = expectError(
      await patchMe(session, { currentPassword: user.password }),
      400,
      'validation_failed'
    )
    expect(onlyPassword.details).toEqual([{ path: '/email', message: expect.any(String) }])
  })

  it('changes the username and starts an email change in one request', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    const response = await patchMe(session, {
      username: 'renamed_user',
      email: 'both@example.com',
      currentPassword: user.password,
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().user).toMatchObject({ username: 'renamed_user', email: user.email })
    expect(await mailsTo(t.context.app, 'both@example.com')).toHaveLength(1)
  })

  it('does not let one user confirm a change with a token issued for another', async () => {
    const alice = await createLoggedInUser(t.context.app)
    const bob = await createLoggedInUser(t.context.app)
    await patchMe(alice.token, { email: 'alice-new@example.com', currentPassword: alice.user.password })
    const token = await latestToken(t.context.app, 'alice-new@example.com', CHANGE_SUBJECT)
    // the token carries its owner: whoever sends it, only Alice's address changes
    expect((await verify(token)).json().user).toMatchObject({
      id: alice.user.id,
      email: 'alice-new@example.com',
    })
    const bobNow = await t.context.app.inject({ url: '/v1/me', headers: bearer(bob.token) })
    expect(bobNow.json().user.email).toBe(bob.user.email)
  })

  it('a new change request retires the earlier token', async () => {
    const { user, token: session } = await createLoggedInUser(t.context.app)
    await patchMe(session, { email: 'first@example.com', currentPassword: user.password })
    const first = await latestToken(t.context.app, 'first@example.com', CHANGE_SUBJECT)
    await patchMe(session, { email: 'second@example.com', currentPassword: user.password })
    expectError(await verify(first), 400, 'validation_failed')
    const second = await latestToken(t.context.app, 'second@example.com', CHANGE_SUBJECT)
    expect((await verify(second)).json().user.email).toBe('second@example.com')
  })
})
