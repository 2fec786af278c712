import type { InjectOptions } from 'fastify'
import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser } from '../helpers/factories.js'

// API.md Conventions: every /v1 response carries cache-control: no-store and nosniff
const t = useTestApp({ env: { RATE_LIMIT_ANON_MAX: '100' } })

type Request = (token: string) => InjectOptions

const json = { 'content-type': 'application/json' }

const cases: Array<[string, number, Request]> = [
  ['GET /v1/ping', 200, (token) => ({ url: '/v1/ping', headers: bearer(token) })],
  ['GET /v1/me', 200, (token) => ({ url: '/v1/me', headers: bearer(token) })],
  ['GET /v1/me/tokens', 200, (token) => ({ url: '/v1/me/tokens', headers: bearer(token) })],
  ['POST /v1/auth/password-reset (anonymous)', 202, () => ({
    method: 'POST',
    url: '/v1/auth/password-reset',
    payload: { email: 'nobody@example.com' },
  })],
  ['POST /v1/auth/register', 201, () => ({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email: 'new@example.com', username: 'newcomer', password: 'a-Long-unusual-passw0rd' },
  })],
  ['POST /v1/tokens/revoke', 202, () => ({ method: 'POST', url: '/v1/tokens/revoke', payload: { token: 'x' } })],
  ['POST /v1/auth/logout', 204, (token) => ({ method: 'POST', url: '/v1/auth/logout', headers: bearer(token) })],
  ['a missing token', 401, () => ({ url: '/v1/me' })],
  ['a made-up token', 401, () => ({ url: '/v1/me', headers: bearer('tsr_sess_guess') })],
  ['an invalid body', 400, (token) => ({ method: 'PATCH', url: '/v1/me', headers: bearer(token), payload: { username: 1 } })],
  ['invalid JSON', 400, () => ({ method: 'POST', url: '/v1/auth/login', headers: json, payload: '{' })],
  ['a text/plain body', 415, () => ({ method: 'POST', url: '/v1/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'x' })],
  ['a failed login', 401, () => ({ method: 'POST', url: '/v1/auth/login', payload: { username: 'nobody', password: 'wrong-password' } })],
  ['an unknown /v1 route', 404, () => ({ url: '/v1/nothing-here' })],
  ['a malformed %-escape in the path', 400, () => ({ url: '/v1/me/tokens/%zz' })],
  ['an admin route without the scope', 403, (token) => ({ url: '/v1/admin/users', headers: bearer(token) })],
]

describe('every /v1 response', () => {
  it.each(cases)('%s (%i) carries cache-control: no-store and x-content-type-options: nosniff', async (_name, status, request) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject(request(token))
    expect(response.statusCode, response.body).toBe(status)
    expect(response.headers['cache-control']).toBe('no-store')
    expect(response.headers['x-content-type-options']).toBe('nosniff')
  })

  it('429 rate_limited (RATE_LIMIT_ANON_MAX=1) carries them too', async () => {
    await t.setup({ env: { RATE_LIMIT_ANON_MAX: '1' } })
    const revoke = { method: 'POST', url: '/v1/tokens/revoke', payload: { token: 'x' } } as const
    expect((await t.context.app.inject(revoke)).statusCode).toBe(202)
    const refused = await t.context.app.inject(revoke)
    expect(refused.statusCode).toBe(429)
    expect(refused.headers['cache-control']).toBe('no-store')
    expect(refused.headers['x-content-type-options']).toBe('nosniff')
  })

  it('does not mark /health, which is not part of the API', async () => {
    const health = await t.context.app.inject({ url: '/health' })
    expect(health.statusCode).toBe(200)
    expect(health.headers['cache-control']).toBeUndefined()
  })
})
