import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, ping } from '../helpers/factories.js'
import { expectNoSecrets, expectUser } from '../helpers/expect-user.js'

const t = useTestApp()

describe('GET /v1/me', () => {
  it('answers 200 {user} for the token owner, never a hash', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({ url: '/v1/me', headers: bearer(token) })
    expect(response.statusCode).toBe(200)
    expect(Object.keys(response.json())).toEqual(['user'])
    expectUser(response.json().user, { id: user.id, username: user.username, email: user.email })
    expectNoSecrets(response.body, user.password, token)
  })

  it('answers 401 token_missing without a token', async () => {
    const response = await t.context.app.inject({ url: '/v1/me' })
    expectError(response, 401, 'token_missing')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
  })
})

describe('PATCH /v1/me', () => {
  const patch = (token: string, payload: unknown) =>
    t.context.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(token),
      payload: payload as object,
    })

  it('changes the username and answers 200 {user}', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await patch(token, { username: 'renamed.user' })
    expect(response.statusCode).toBe(200)
    expectUser(response.json().user, { id: user.id, username: 'renamed.user', email: user.email })
    const me = await t.context.app.inject({ url: '/v1/me', headers: bearer(token) })
    expect(me.json().user.username).toBe('renamed.user')
  })

  it('answers 200 with the unchanged user for an empty body, ignoring unknown properties', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await patch(token, { role: 'admin', emailVerified: true })
    expect(response.statusCode).toBe(200)
    expectUser(response.json().user, { username: user.username, role: 'user', emailVerified: false })
  })

  it('answers 409 username_taken, case-insensitively', async () => {
    const other = await createUser(t.context.app)
    const { token } = await createLoggedInUser(t.context.app)
    expectError(await patch(token, { username: other.username.toUpperCase() }), 409, 'username_taken')
  })

  it('lets a user change the case of their own username', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await patch(token, { username: user.username.toUpperCase() })
    expect(response.statusCode).toBe(200)
    expect(response.json().user.username).toBe(user.username.toUpperCase())
  })

  it.each([
    ['too short', { username: 'ab' }],
    ['a number', { username: 123 }],
    ['with a NUL byte', { username: 'ab\u0000cd' }],
    ['10,000 characters', { username: 'a'.repeat(10_000) }],
  ])('answers 400 validation_failed for a username %s', async (_, payload) => {
    const { token } = await createLoggedInUser(t.context.app)
    const body = expectError(await patch(token, payload), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/username' })]))
  })

  it('records a user.updated event', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    await patch(token, { username: 'evented' })
    const events = await t.context.db.database
      .sql`select type from security_events where user_id = ${user.id}`
    expect(events.map((e) => e.type)).toContain('user.updated')
  })
})

describe('GET /v1/ping and POST /v1/auth/logout', () => {
  it('answers pong for a valid token', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await ping(t.context.app, token)
    expect(response.statusCode).toBe(200)
    expect(response.json()).toEqual({ message: 'pong' })
  })

  it('logout answers 204 with no body, then the token is token_revoked everywhere', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const other = await createLoggedInUser(t.context.app)
    const logout = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(token),
    })
    expect(logout.statusCode).toBe(204)
    expect(logout.body).toBe('')
    for (const [method, url] of [
      ['GET', '/v1/ping'],
      ['GET', '/v1/me'],
      ['POST', '/v1/auth/logout'],
    ] as const) {
      const response = await t.context.app.inject({ method, url, headers: bearer(token) })
      expectError(response, 401, 'token_revoked')
      expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera", error="invalid_token"')
    }
    // only the presenting token
    expect((await ping(t.context.app, other.token)).statusCode).toBe(
      200
    )
  })
})

describe('token last use', () => {
  it('is recorded off the request path and written when the app closes', async () => {
    const { tokenId, token } = await createLoggedInUser(t.context.app)
    const before = await t.context.db.database.sql`select last_used_at from auth_tokens where id = ${tokenId}`
    expect(before[0]?.last_used_at).toBeNull()
    expect((await ping(t.context.app, token, { remoteAddress: '203.0.113.7' })).statusCode).toBe(200)
    await t.context.app.close()
    const [row] = await t.context.db.database.sql`
      select last_used_at, last_used_ip from auth_tokens where id = ${tokenId}`
    expect(row?.last_used_at).not.toBeNull()
    expect(row?.last_used_ip).toBe('203.0.113.7')
  })
})

describe('concurrent registrations', () => {
  it('let exactly one of two identical sign-ups through; the other is 409, not 500', async () => {
    const payload = { email: 'race@example.com', username: 'racer', password: 'Race-condition-42' }
    const responses = await Promise.all(
      [payload, { ...payload, email: 'RACE@example.com', username: 'RACER' }].map((p) =>
        t.context.app.inject({ method: 'POST', url: '/v1/auth/register', payload: p })
      )
    )
    const statuses = responses.map((r) => r.statusCode).sort()
    expect(statuses).toEqual([201, 409])
    const conflict = responses.find((r) => r.statusCode === 409)
    expect(['email_taken', 'username_taken']).toContain(conflict?.json().code)
  })
})
