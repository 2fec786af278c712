import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { testConfig, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'

const t = useTestApp()

const post = (url: string, payload: string, headers: Record<string, string> = {}) =>
  t.context.app.inject({ method: 'POST', url, payload, headers })

describe('unknown routes', () => {
  it.each([
    ['GET', '/nope'],
    ['POST', '/v1/nope'],
    ['DELETE', '/v1/me'],
    ['GET', '/v1/me/tokens/not-a-route/really'],
  ] as const)('answers 404 not_found for %s %s', async (method, url) => {
    expectError(await t.context.app.inject({ method, url }), 404, 'not_found')
  })

  it.each(['/%zz', '/v1/%E0%A4%A'])(
    'answers 400 validation_failed in the error shape for the malformed URL %s',
    async (url) => {
      expectError(await t.context.app.inject({ url }), 400, 'validation_failed')
    }
  )

  it('answers 404 for a method the route does not have', async () => {
    expectError(await t.context.app.inject({ method: 'POST', url: '/health' }), 404, 'not_found')
    expectError(await t.context.app.inject({ method: 'GET', url: '/v1/auth/login' }), 404, 'not_found')
  })

  it('does not echo a huge URL back in the message', async () => {
    const url = `/${'a'.repeat(10_000)}`
    const response = await t.context.app.inject({ url })
    const body = expectError(response, 404, 'not_found')
    expect(String(body.message).length).toBeLessThan(300)
    const withQuery = await t.context.app.inject({ url: '/v1/nope?token=tsr_sess_secret' })
    expect(expectError(withQuery, 404, 'not_found').message).not.toContain('tsr_sess_secret')
  })
})

describe('request bodies', () => {
  it.each([
    ['text/plain', { 'content-type': 'text/plain' }],
    ['form-encoded', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no content-type', {}],
  ])('answers 415 unsupported_media_type for a %s body', async (_, headers) => {
    const payload = JSON.stringify({ email: 'a@example.com', username: 'abc', password: 'Long-enough-1' })
    expectError(await post('/v1/auth/register', payload, headers), 415, 'unsupported_media_type')
  })

  it.each([
    ['truncated JSON', '{"email": "a@'],
    ['not JSON at all', 'hello'],
    ['trailing garbage', '{"a":1} x'],
    ['an empty body', ''],
  ])('answers 400 invalid_json for %s', async (_, payload) => {
    const response = await post('/v1/auth/login', payload, { 'content-type': 'application/json' })
    expectError(response, 400, 'invalid_json')
  })

  it('answers 400 invalid_json for a prototype-poisoning body', async () => {
    const payload = '{"__proto__":{"role":"admin"},"username":"someone","password":"whatever-1"}'
    expectError(
      await post('/v1/auth/login', payload, { 'content-type': 'application/json' }),
      400,
      'invalid_json'
    )
  })

  it('answers 413 payload_too_large for a body over BODY_LIMIT_BYTES (64 KiB)', async () => {
    const payload = JSON.stringify({ username: 'someone', password: 'x'.repeat(65_536) })
    const response = await post('/v1/auth/login', payload, { 'content-type': 'application/json' })
    expectError(response, 413, 'payload_too_large')
  })

  it('honours a configured BODY_LIMIT_BYTES', async () => {
    await t.setup({ env: { BODY_LIMIT_BYTES: '1024' } })
    const payload = JSON.stringify({ username: 'someone', password: 'x'.repeat(1100) })
    expectError(
      await post('/v1/auth/login', payload, { 'content-type': 'application/json' }),
      413,
      'payload_too_large'
    )
  })

  const LONG = 'x'.repeat(10_000)
  const NUL = 'ab\u0000cdefgh'
  it.each([
    [
      'register',
      '/v1/auth/register',
      { email: `${LONG}@example.com`, username: 'abc', password: 'Long-enough-1' },
    ],
    ['register', '/v1/auth/register', { email: 'a@example.com', username: LONG, password: 'Long-enough-1' }],
    ['register', '/v1/auth/register', { email: 'a@example.com', username: 'abc', password: LONG }],
    [
      'register',
      '/v1/auth/register',
      { email: `a${NUL}@example.com`, username: 'abc', password: 'Long-enough-1' },
    ],
    ['register', '/v1/auth/register', { email: 'a@example.com', username: NUL, password: 'Long-enough-1' }],
    ['login', '/v1/auth/login', { username: LONG, password: 'whatever-1' }],
    ['login', '/v1/auth/login', { email: LONG, password: 'whatever-1' }],
    ['login', '/v1/auth/login', { username: 'someone', password: LONG }],
    ['login', '/v1/auth/login', { username: NUL, password: 'whatever-1' }],
    ['login', '/v1/auth/login', { email: `a${NUL}@example.com`, password: 'whatever-1' }],
    ['login', '/v1/auth/login', { username: 'someone', password: NUL }],
    ['login', '/v1/auth/login', { username: 'someone', password: 'whatever-1', tokenName: NUL }],
    ['login', '/v1/auth/login', { username: 'someone', password: 'whatever-1', tokenName: LONG }],
  ])('%s answers 4xx in the error shape for long strings and NUL bytes (%#)', async (_, url, payload) => {
    const response = await post(url, JSON.stringify(payload), { 'content-type': 'application/json' })
    expect(response.statusCode).toBeGreaterThanOrEqual(400)
    expect(response.statusCode).toBeLessThan(500)
    expectError(response, response.statusCode, response.json().code)
  })

  it('accepts a password with a NUL byte at registration and login (it is hashed, never stored)', async () => {
    const password = 'ab\u0000cdefgh-ijk'
    const register = await post(
      '/v1/auth/register',
      JSON.stringify({ email: 'nul@example.com', username: 'nul_user', password }),
      { 'content-type': 'application/json' }
    )
    expect(register.statusCode).toBe(201)
    const login = await post('/v1/auth/login', JSON.stringify({ username: 'nul_user', password }), {
      'content-type': 'application/json',
    })
    expect(login.statusCode).toBe(200)
    const wrong = await post('/v1/auth/login', JSON.stringify({ username: 'nul_user', password: 'ab' }), {
      'content-type': 'application/json',
    })
    expectError(wrong, 401, 'invalid_credentials')
  })

  it('ignores unknown properties on a protected route', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(token),
      payload: { username: 'new_name', passwordHash: 'x', role: 'admin' },
    })
    expect(response.statusCode).toBe(200)
    expect(response.json().user).toMatchObject({ username: 'new_name', role: 'user' })
  })
})

describe('internal errors', () => {
  it('answer 500 internal_error without a stack, SQL or message', async () => {
    const app = await buildApp({ config: testConfig(), database: t.context.db.database, ownsDatabase: false })
    app.get('/test/throw', async () => {
      throw new Error('secret internal detail at /src/app.ts:42')
    })
    app.get('/test/sql', async () => {
      await t.context.db.database.sql`select password_hash from no_such_table`
    })
    app.get('/test/non-error', async () => {
      // eslint-disable-next-line no-throw-literal -- the point: something thrown that is not an Error
      throw { weird: 'object', password: 'hunter2' }
    })
    await app.ready()
    try {
      for (const url of ['/test/throw', '/test/sql', '/test/non-error']) {
        const response = await app.inject({ url })
        const body = expectError(response, 500, 'internal_error')
        expect(body.message).toBe('Something went wrong on our side.')
        expect(response.body).not.toMatch(/secret|no_such_table|select|stack|hunter2|\.ts/i)
      }
    } finally {
      await app.close()
    }
  })

  it('map an error thrown with a 4xx statusCode to the API.md shape', async () => {
    const app = await buildApp({ config: testConfig(), database: t.context.db.database, ownsDatabase: false })
    app.get('/test/teapot', async () => {
      throw Object.assign(new Error('I am a teapot'), { statusCode: 418 })
    })
    app.get('/test/forbidden', async () => {
      throw Object.assign(new Error('nope'), { statusCode: 403 })
    })
    await app.ready()
    try {
      expectError(await app.inject({ url: '/test/forbidden' }), 403, 'forbidden')
      const teapot = await app.inject({ url: '/test/teapot' })
      expect(teapot.statusCode).toBeGreaterThanOrEqual(400)
      expectError(teapot, teapot.statusCode, teapot.json().code)
    } finally {
      await app.close()
    }
  })
})
