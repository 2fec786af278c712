import { describe, expect, it } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'
import { latestToken, VERIFY_SUBJECT } from '../helpers/mail.js'
import { createPersonalToken } from '../helpers/tokens.js'

const t = useTestApp()

/** An admin's personal token holding tokens:introspect alone, as a resource server would get one. */
async function resourceServer () {
  const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
  return createPersonalToken(t.context.app, admin.token, { name: 'orders service', scopes: ['tokens:introspect'] })
}

const introspect = (callerToken: string, token: unknown, form = true) =>
  t.context.app.inject({
    method: 'POST',
    url: '/v1/introspect',
    headers: {
      ...bearer(callerToken),
      'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json',
    },
    payload: form ? new URLSearchParams({ token: String(token), token_type_hint: 'access_token' }).toString() : JSON.stringify({ token }),
  })

describe('POST /v1/introspect (RFC 7662)', () => {
  it('describes a live session token, form-encoded as the RFC has it', async () => {
    const caller = await resourceServer()
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    const response = await introspect(caller.token, token)
    expect(response.statusCode, response.body).toBe(200)
    const body = response.json()
    expect(body).toEqual({
      active: true,
      scope: 'profile:read profile:write tokens:read tokens:write',
      sub: user.id,
      username: user.username,
      token_type: 'Bearer',
      kind: 'session',
      exp: expect.any(Number),
      iat: expect.any(Number),
      jti: tokenId,
    })
    const nowSeconds = Date.now() / 1000
    expect(body.iat).toBeGreaterThan(nowSeconds - 60)
    expect(body.iat).toBeLessThanOrEqual(nowSeconds)
    expect(body.exp - body.iat).toBeGreaterThanOrEqual(604_799)
    expect(response.headers['cache-control']).toBe('no-store')
  })

  it('describes a personal token in JSON too, with its own scopes', async () => {
    const caller = await resourceServer()
    const { token } = await createLoggedInUser(t.context.app)
    const pat = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'], expiresInDays: 7 })
    const response = await introspect(caller.token, pat.token, false)
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json()).toMatchObject({ active: true, scope: 'profile:read', kind: 'personal', jti: pat.id })
    expect(response.json().exp - response.json().iat).toBe(7 * 86_400)
  })

  it.each([
    ['an unknown token', async () => 'tsr_sess_' + 'A'.repeat(49)],
    ['a malformed one', async () => 'not a token'],
    ['a revoked one', async () => {
      const { token } = await createLoggedInUser(t.context.app)
      await t.context.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(token) })
      return token
    }],
    ['an expired one', async () => {
      const { token, tokenId } = await createLoggedInUser(t.context.app)
      await t.context.db.database.sql`update auth_tokens set expires_at = now() - interval '1 second' where id = ${tokenId}`
      return token
    }],
    ['a disabled user’s', async () => {
      const { user, token } = await createLoggedInUser(t.context.app)
      await t.context.db.database.sql`update users set disabled = true where id = ${user.id}`
      return token
    }],
    ['a mailed verification token', async () => {
      const { user } = await createLoggedInUser(t.context.app)
      return latestToken(t.context.app, user.email, VERIFY_SUBJECT)
    }],
  ])('answers {active: false} and nothing more for %s', async (_case, tokenOf) => {
    const caller = await resourceServer()
    const response = await introspect(caller.token, await tokenOf())
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json()).toEqual({ active: false })
  })

  it('never records a use of the introspected token', async () => {
    const caller = await resourceServer()
    const { token, tokenId } = await createLoggedInUser(t.context.app)
    expect((await introspect(caller.token, token)).json().active).toBe(true)
    await t.context.app.close()
    const [row] = await t.context.db.database.sql`select last_used_at from auth_tokens where id = ${tokenId}`
    expect(row?.last_used_at).toBeNull()
  })

  it('counts the call against the caller’s budget, not the introspected user’s', async () => {
    const caller = await resourceServer()
    const { token } = await createLoggedInUser(t.context.app)
    const response = await introspect(caller.token, token)
    // the caller is an admin: unlimited, so no budget headers; the user's budget is untouched
    expect(response.headers['x-ratelimit-limit']).toBeUndefined()
    const ping = await t.context.app.inject({ url: '/v1/ping', headers: bearer(token) })
    expect(ping.headers['x-ratelimit-remaining']).toBe('599')
  })

  it('answers 401 token_missing without a caller token, whatever the body', async () => {
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/introspect',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token=x',
    })
    expectError(response, 401, 'token_missing')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
  })

  it('answers 401 token_invalid to a caller with a bad token', async () => {
    const response = await introspect('tsr_pat_' + 'B'.repeat(49), 'x')
    expectError(response, 401, 'token_invalid')
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"')
  })

  it('answers 403 insufficient_scope to a caller without tokens:introspect (a user’s session)', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await introspect(token, token)
    expectError(response, 403, 'insufficient_scope')
    expect(response.headers['www-authenticate']).toBe(
      'Bearer realm="tessera", error="insufficient_scope", scope="tokens:introspect"'
    )
  })

  it('refuses tokens:introspect to a user who is not an admin (403 forbidden)', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload: { name: 'sneaky', scopes: ['tokens:introspect'] },
    })
    expectError(response, 403, 'forbidden')
  })

  it('answers 400 validation_failed without `token`', async () => {
    const caller = await resourceServer()
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/introspect',
      headers: { ...bearer(caller.token), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'token_type_hint=access_token',
    })
    const body = expectError(response, 400, 'validation_failed')
    expect(body.details).toEqual([{ path: '/token', message: expect.any(String) }])
  })

  it('answers 415 unsupported_media_type to a text/plain body', async () => {
    const caller = await resourceServer()
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/introspect',
      headers: { ...bearer(caller.token), 'content-type': 'text/plain' },
      payload: 'token=x',
    })
    expectError(response, 415, 'unsupported_media_type')
  })

  it('keeps form bodies to this route: elsewhere they are 415', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: { ...bearer(token), 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'username=changed',
    })
    expectError(response, 415, 'unsupported_media_type')
  })
})
