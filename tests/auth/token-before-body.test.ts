import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'

// API.md Conventions: the token is checked before the body; a request that fails validation
// still counts against its budget and carries the x-ratelimit-* headers.
const t = useTestApp({ env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_ANON_MAX: '3' } })

interface Body {
  payload?: string
  contentType?: string
}

const bodies: Array<[string, Body, number, string]> = [
  ['an empty object', { payload: '{}' }, 400, 'validation_failed'],
  ['wrong types', { payload: '{"currentPassword":1,"newPassword":true}' }, 400, 'validation_failed'],
  ['invalid JSON', { payload: '{"currentPassword":' }, 400, 'invalid_json'],
  ['a text/plain body', { payload: 'hello', contentType: 'text/plain' }, 415, 'unsupported_media_type'],
]

const changePassword = (app: FastifyInstance, body: Body, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'PUT',
    url: '/v1/me/password',
    headers: { 'content-type': body.contentType ?? 'application/json', ...headers },
    ...(body.payload === undefined ? {} : { payload: body.payload }),
  })

const expectLimitHeaders = (response: { headers: Record<string, unknown> }, limit: string) => {
  expect(response.headers['x-ratelimit-limit']).toBe(limit)
  expect(response.headers['x-ratelimit-remaining']).toMatch(/^\d+$/)
  expect(Number(response.headers['x-ratelimit-reset'])).toBeGreaterThan(0)
}

describe('a guarded route without a valid token', () => {
  it.each(bodies)('answers 401 token_missing for %s, counted against the IP', async (_name, body) => {
    const response = await changePassword(t.context.app, body)
    expectError(response, 401, 'token_missing')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
    expectLimitHeaders(response, '3')
    expect(response.headers['x-ratelimit-remaining']).toBe('2')
  })

  it.each(bodies)('answers 401 token_invalid for %s with a made-up token', async (_name, body) => {
    const response = await changePassword(t.context.app, body, bearer('tsr_sess_guess'))
    expectError(response, 401, 'token_invalid')
    expectLimitHeaders(response, '3')
  })

  it('ends in 429 after RATE_LIMIT_ANON_MAX bad bodies without a token', async () => {
    for (const [, body] of bodies.slice(0, 3)) expectError(await changePassword(t.context.app, body), 401, 'token_missing')
    const refused = await changePassword(t.context.app, bodies[3]![1])
    expectError(refused, 429, 'rate_limited')
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0)
  })
})

describe('a guarded route with a valid token and a bad body', () => {
  it.each(bodies)('answers %s with its own error, counted against the user', async (_name, body, status, code) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await changePassword(t.context.app, body, bearer(token))
    const error = expectError(response, status, code)
    expectLimitHeaders(response, '3')
    expect(response.headers['x-ratelimit-remaining']).toBe('2')
    if (code === 'validation_failed') expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: expect.any(String) })]))
  })

  it("ends in 429 once invalid bodies have spent the user's budget", async () => {
    const { token } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 3; i++) expectError(await changePassword(t.context.app, bodies[0]![1], bearer(token)), 400, 'validation_failed')
    expectError(await changePassword(t.context.app, bodies[0]![1], bearer(token)), 429, 'rate_limited')
  })

  it('answers 403 insufficient_scope before looking at the body', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const created = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload: { name: 'read only', scopes: ['profile:read'] },
    })
    const readOnly = created.json().token as string
    expectError(await changePassword(t.context.app, bodies[0]![1], bearer(readOnly)), 403, 'insufficient_scope')
  })
})

describe('anonymous /v1 routes', () => {
  const login = (body: Body) =>
    t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      headers: { 'content-type': body.contentType ?? 'application/json' },
      ...(body.payload === undefined ? {} : { payload: body.payload }),
    })

  it.each(bodies)('count %s against the IP before the body is read', async (_name, body, status, code) => {
    const response = await login(body)
    expectError(response, status, code)
    expectLimitHeaders(response, '3')
    expect(response.headers['x-ratelimit-remaining']).toBe('2')
  })

  it('limit a flood of malformed logins', async () => {
    for (const [, body, status, code] of bodies.slice(0, 3)) expectError(await login(body), status, code)
    expectError(await login(bodies[3]![1]), 429, 'rate_limited')
  })

  it('limit invalid JSON sent to an unknown route', async () => {
    const junk = () =>
      t.context.app.inject({
        method: 'POST',
        url: '/v1/nothing-here',
        headers: { 'content-type': 'application/json' },
        payload: '{',
      })
    const first = await junk()
    expect(first.statusCode).toBe(400)
    expectLimitHeaders(first, '3')
    await junk()
    await junk()
    expectError(await junk(), 429, 'rate_limited')
  })
})
