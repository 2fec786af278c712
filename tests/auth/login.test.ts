import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createUser, expectError, login, ping } from '../helpers/factories.js'

const t = useTestApp()

describe('POST /v1/auth/login', () => {
  it('logs in by username or email, case-insensitively, and the token works', async () => {
    const user = await createUser(t.context.app)
    for (const identity of [{ username: user.username.toUpperCase() }, { email: user.email.toUpperCase() }]) {
      const response = await t.context.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { ...identity, password: user.password },
      })
      expect(response.statusCode).toBe(200)
      expect(response.headers['cache-control']).toBe('no-store')
      const body = response.json()
      expect(body).toMatchObject({ tokenType: 'Bearer', user: { id: user.id, username: user.username } })
      expect(body.token).toMatch(/^tsr_sess_[A-Za-z0-9_-]{49}$/)
      expect((await ping(t.context.app, body.token)).json()).toEqual({ message: 'pong' })
    }
  })

  it('answers 401 invalid_credentials, identical for a wrong password and an unknown user', async () => {
    const user = await createUser(t.context.app)
    const wrong = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: 'not-the-password' },
    })
    const unknown = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'nobody_here', password: 'not-the-password' },
    })
    expect(expectError(wrong, 401, 'invalid_credentials')).toEqual(
      expectError(unknown, 401, 'invalid_credentials')
    )
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="tessera"')
  })

  it('answers 401 token_revoked after logout', async () => {
    const user = await createUser(t.context.app)
    const { token } = await login(t.context.app, user)
    const logout = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: bearer(token),
    })
    expect(logout.statusCode).toBe(204)
    const after = await t.context.app.inject({ url: '/v1/me', headers: bearer(token) })
    expectError(after, 401, 'token_revoked')
    expect(after.headers['www-authenticate']).toBe('Bearer realm="tessera", error="invalid_token"')
  })
})
