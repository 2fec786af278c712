import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, login } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

const RECIPES = { SCOPES: 'recipes:read=Read your recipes,recipes:write=Change your recipes' }
const t = useTestApp({ env: RECIPES })

/** Whether the token may do what `scope` guards, as any protected route would say (forward auth). */
const allowed = async (token: string, scope: string, app: FastifyInstance = t.context.app) => {
  const response = await app.inject({ url: '/v1/auth/check', headers: { ...bearer(token), 'x-tessera-scope': scope } })
  if (response.statusCode === 403) expectError(response, 403, 'insufficient_scope')
  return response.statusCode === 200
}

describe('application scopes (SCOPES)', () => {
  it('GET /v1/scopes lists the built-in scopes, then the declared ones, without a token', async () => {
    const response = await t.context.app.inject({ url: '/v1/scopes' })
    expect(response.statusCode).toBe(200)
    const { scopes } = response.json()
    expect(scopes.map((scope: { name: string }) => scope.name)).toEqual([
      'profile:read', 'profile:write', 'tokens:read', 'tokens:write', 'admin', 'tokens:introspect',
      'recipes:read', 'recipes:write',
    ])
    expect(scopes.at(-2)).toEqual({ name: 'recipes:read', description: 'Read your recipes', adminOnly: false })
    expect(scopes.find((scope: { name: string }) => scope.name === 'tokens:introspect').adminOnly).toBe(true)
    expect(response.headers['x-ratelimit-limit']).toBe('60')
  })

  it('a session holds them; a personal token holds the ones it was given', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    expect(await allowed(token, 'recipes:write')).toBe(true)
    const reader = await createPersonalToken(t.context.app, token, { scopes: ['recipes:read'] })
    expect(await allowed(reader.token, 'recipes:read')).toBe(true)
    expect(await allowed(reader.token, 'recipes:write')).toBe(false)
    expect(await allowed(reader.token, 'profile:read')).toBe(false)
  })

  it('refuses a scope that is not declared: 400 validation_failed at /scopes/<i>', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload: { name: 'x', scopes: ['recipes:read', 'recipes:delete'] },
    })
    const body = expectError(response, 400, 'validation_failed')
    expect(body.details).toEqual([{ path: '/scopes/1', message: expect.any(String) }])
  })

  it('a scope removed from SCOPES stops working on the next start, and re-declaring it does not revive old tokens', async () => {
    const user = await createUser(t.context.app)
    const session = await login(t.context.app, user)
    const pat = await createPersonalToken(t.context.app, session.token, { scopes: ['recipes:read', 'profile:read'] })

    // a restart on the same database with another declaration
    const restarted = async (env: Record<string, string>, check: (app: FastifyInstance) => Promise<void>) => {
      const app = await buildTestApp(t.context.db.database, { env })
      try {
        await check(app)
      } finally {
        await app.close()
      }
    }
    await t.context.app.close()
    await restarted({ SCOPES: 'recipes:write' }, async (app) => {
      expect(await allowed(pat.token, 'recipes:read', app)).toBe(false)
      expect(await allowed(session.token, 'recipes:read', app)).toBe(false)
      // what is still declared keeps working
      expect(await allowed(pat.token, 'profile:read', app)).toBe(true)
      expect(await allowed(session.token, 'recipes:write', app)).toBe(true)
      const listed = await app.inject({ url: '/v1/me/tokens', headers: bearer(session.token) })
      expect(listed.json().tokens.find((token: { id: string }) => token.id === pat.id).scopes).toEqual(['profile:read'])
    })
    await restarted(RECIPES, async (app) => {
      expect(await allowed(pat.token, 'recipes:read', app)).toBe(false)
      expect(await allowed(session.token, 'recipes:read', app)).toBe(false)
      // a token issued after the re-declaration holds it
      expect(await allowed((await login(app, user)).token, 'recipes:read', app)).toBe(true)
    })
  })

  it.each([
    ['Recipes:Read', 'not a scope name'],
    ['admin', 'a built-in scope'],
    ['a,a', 'twice'],
    [`x${'y'.repeat(64)}`, 'not a scope name'],
  ])('SCOPES=%s stops start-up naming SCOPES (%s)', (value, problem) => {
    expect(() => loadConfig({ SCOPES: value })).toThrow(new RegExp(`SCOPES has .*${problem}`))
  })

  it('SCOPES takes names alone, the name standing in for a description', () => {
    expect(loadConfig({ SCOPES: ' orders:read , orders:write=Place orders ' }).scopes).toEqual({
      'orders:read': 'orders:read',
      'orders:write': 'Place orders',
    })
  })
})
