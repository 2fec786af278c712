import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

const t = useTestApp()
const TIGHT = { env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_ANON_MAX: '3' } }

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD' | 'OPTIONS'
const check = (options: { method?: Method; url?: string; token?: string; scope?: string; payload?: string; contentType?: string }) =>
  t.context.app.inject({
    method: options.method ?? 'GET',
    url: options.url ?? '/v1/auth/check',
    headers: {
      ...(options.token ? bearer(options.token) : {}),
      ...(options.scope ? { 'x-tessera-scope': options.scope } : {}),
      ...(options.contentType ? { 'content-type': options.contentType } : {}),
    },
    ...(options.payload === undefined ? {} : { payload: options.payload }),
  })

describe('/v1/auth/check (forward authentication)', () => {
  it('allows a valid token: 200, empty body, the caller in x-tessera-* headers and its budget', async () => {
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    const response = await check({ token })
    expect(response.statusCode, response.body).toBe(200)
    expect(response.body).toBe('')
    expect(response.headers).toMatchObject({
      'x-tessera-user-id': user.id,
      'x-tessera-token-id': tokenId,
      'x-tessera-username': user.username,
      'x-tessera-role': 'user',
      'x-tessera-scopes': 'profile:read profile:write tokens:read tokens:write',
      'x-ratelimit-limit': '600',
      'x-ratelimit-remaining': '599',
      'cache-control': 'no-store',
    })
    expect(response.headers['x-tessera-error']).toBeUndefined()
  })

  it.each<Method>(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'])(
    'answers %s, on any sub-path, with any body',
    async (method) => {
      const { token } = await createLoggedInUser(t.context.app)
      const response = await check({ method, token, url: '/v1/auth/check/orders/42?x=1', payload: method === 'GET' || method === 'HEAD' ? undefined : 'a=b', contentType: 'text/plain' })
      expect(response.statusCode, response.body).toBe(200)
    }
  )

  it('takes the needed scope from x-tessera-scope, or ?scope=', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const pat = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    expect((await check({ token: pat.token, scope: 'profile:read' })).statusCode).toBe(200)
    const refused = await check({ token: pat.token, scope: 'tokens:read' })
    expectError(refused, 403, 'insufficient_scope')
    expect(refused.headers['www-authenticate']).toBe('Bearer realm="tessera", error="insufficient_scope", scope="tokens:read"')
    expectError(await check({ token: pat.token, url: '/v1/auth/check?scope=tokens:read' }), 403, 'insufficient_scope')
    expect((await check({ token: pat.token, url: '/v1/auth/check?scope=profile:read' })).statusCode).toBe(200)
    expect((await check({ token: pat.token })).headers['x-tessera-scopes']).toBe('profile:read')
  })

  it('answers 403 insufficient_scope for a scope no token holds (not declared)', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    expectError(await check({ token, scope: 'orders:cancel' }), 403, 'insufficient_scope')
  })

  it('answers 400 validation_failed to a scope that is not a scope name, without echoing it', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await check({ token, url: '/v1/auth/check?scope=%22%2C%20x' })
    const body = expectError(response, 400, 'validation_failed')
    expect(body.details).toEqual([{ path: '/scope', message: expect.any(String) }])
    expect(response.headers['www-authenticate']).toBeUndefined()
  })

  it('answers 401 token_missing without a token, with WWW-Authenticate and the body in x-tessera-error', async () => {
    const response = await check({})
    const body = expectError(response, 401, 'token_missing')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
    expect(JSON.parse(String(response.headers['x-tessera-error']))).toEqual(body)
  })

  it.each([
    ['token_invalid', async () => 'tsr_sess_' + 'C'.repeat(49)],
    ['token_revoked', async () => {
      const { token } = await createLoggedInUser(t.context.app)
      await t.context.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: bearer(token) })
      return token
    }],
    ['token_expired', async () => {
      const { token, tokenId } = await createLoggedInUser(t.context.app)
      await t.context.db.database.sql`update auth_tokens set expires_at = now() - interval '1 second' where id = ${tokenId}`
      return token
    }],
  ])('answers 401 %s with error="invalid_token"', async (code, tokenOf) => {
    const response = await check({ token: await tokenOf() })
    expectError(response, 401, code)
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera", error="invalid_token"')
    expect(JSON.parse(String(response.headers['x-tessera-error'])).code).toBe(code)
  })

  it('counts each check against the user’s budget: 429 with retry-after past it', async () => {
    await t.setup(TIGHT)
    const { token } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 3; i++) expect((await check({ token })).statusCode).toBe(200)
    const response = await check({ token })
    expectError(response, 429, 'rate_limited')
    expect(Number(response.headers['retry-after'])).toBeGreaterThan(0)
    expect(response.headers['x-ratelimit-remaining']).toBe('0')
    expect(JSON.parse(String(response.headers['x-tessera-error'])).code).toBe('rate_limited')
    // the same budget as the user's own API calls
    expectError(await t.context.app.inject({ url: '/v1/ping', headers: bearer(token) }), 429, 'rate_limited')
  })

  it('counts refused tokens against the client IP, so guessing through the proxy ends in 429', async () => {
    await t.setup(TIGHT)
    for (let i = 0; i < 3; i++) expectError(await check({ token: 'tsr_sess_' + 'D'.repeat(49) }), 401, 'token_invalid')
    expectError(await check({ token: 'tsr_sess_' + 'D'.repeat(49) }), 429, 'rate_limited')
  })
})
