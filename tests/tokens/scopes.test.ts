import { describe, expect, it } from 'vitest'
import { createScopeCatalog, SCOPES, type Scope } from '../../src/tokens/scopes.js'
import { verifyToken } from '../../src/tokens/tokens-service.js'
import { promoteToAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError, login, type TestUser } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

const t = useTestApp()
const verifyDeps = () => ({ database: t.context.db.database, now: () => new Date(), scopes: createScopeCatalog({}) })
const USER_SCOPES = SCOPES.filter((scope) => scope !== 'admin' && scope !== 'tokens:introspect')

interface RouteCase {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE'
  url: string | ((tokenId: string) => string)
  scope: Scope | 'any'
  payload?: (user: TestUser) => unknown
}

/** API.md's route table, for the routes of this branch: each with the scope it needs. */
const ROUTES: RouteCase[] = [
  { method: 'GET', url: '/v1/ping', scope: 'any' },
  { method: 'POST', url: '/v1/auth/logout', scope: 'any' },
  { method: 'GET', url: '/v1/me', scope: 'profile:read' },
  { method: 'PATCH', url: '/v1/me', scope: 'profile:write', payload: () => ({}) },
  {
    method: 'PUT',
    url: '/v1/me/password',
    scope: 'profile:write',
    payload: (user) => ({ currentPassword: user.password, newPassword: 'another-Passphrase-77' }),
  },
  { method: 'POST', url: '/v1/auth/logout-all', scope: 'tokens:write' },
  { method: 'GET', url: '/v1/me/tokens', scope: 'tokens:read' },
  {
    method: 'POST',
    url: '/v1/me/tokens',
    scope: 'tokens:write',
    payload: () => ({ name: 'child', scopes: ['tokens:write'] }),
  },
  { method: 'DELETE', url: (tokenId) => `/v1/me/tokens/${tokenId}`, scope: 'tokens:write' },
]

const describeRoute = (route: RouteCase) =>
  `${route.method} ${typeof route.url === 'string' ? route.url : route.url(':id')}`

async function callWithScopes (route: RouteCase, scopes: Scope[]) {
  const { user, token } = await createLoggedInUser(t.context.app)
  const pat = await createPersonalToken(t.context.app, token, { scopes })
  return t.context.app.inject({
    method: route.method,
    url: typeof route.url === 'string' ? route.url : route.url(pat.id),
    headers: bearer(pat.token),
    ...(route.payload ? { payload: route.payload(user) as object } : {}),
  })
}

describe('scope enforcement, route by route', () => {
  const scoped = ROUTES.filter((route) => route.scope !== 'any')

  it.each(scoped.map((route) => [describeRoute(route), route] as const))(
    '%s answers 403 insufficient_scope to a token holding every other scope',
    async (_name, route) => {
      const response = await callWithScopes(
        route,
        USER_SCOPES.filter((scope) => scope !== route.scope)
      )
      const body = expectError(response, 403, 'insufficient_scope')
      expect(body.message).toContain(route.scope)
      expect(response.headers['www-authenticate']).toBe(
        `Bearer realm="tessera", error="insufficient_scope", scope="${route.scope}"`
      )
    }
  )

  it.each(ROUTES.map((route) => [describeRoute(route), route] as const))(
    '%s succeeds with a token holding only the scope it needs',
    async (_name, route) => {
      const needed: Scope[] = route.scope === 'any' ? ['profile:read'] : [route.scope]
      // creating a child token needs the child's scopes too: tokens:write is all it asks for
      const response = await callWithScopes(route, needed)
      expect(response.statusCode, response.body).toBeLessThan(300)
    }
  )
})

describe('scopes follow the role', () => {
  it('a demoted admin’s personal token loses admin on its next request', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const { sql } = t.context.db.database
    await promoteToAdmin(t.context.db.database, user.id)
    const admin = await login(t.context.app, user)
    const pat = await createPersonalToken(t.context.app, admin.token, {
      scopes: ['admin', 'tokens:write', 'tokens:read'],
    })
    const before = await verifyToken(verifyDeps(), pat.token)
    expect(before.ok && before.auth.scopes.has('admin')).toBe(true)

    await sql`update users set role = 'user' where id = ${user.id}`
    const after = await verifyToken(verifyDeps(), pat.token)
    expect(after.ok && [...after.auth.scopes].sort()).toEqual(['tokens:read', 'tokens:write'])
    // and it can no longer mint an admin token: refused, not narrowed
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(pat.token),
      payload: { name: 'sneaky', scopes: ['admin'] },
    })
    expectError(response, 403, 'forbidden')
    // the demoted admin's session token no longer holds admin either
    const session = await verifyToken(verifyDeps(), admin.token)
    expect(session.ok && session.auth.scopes.has('admin')).toBe(false)
    // nor the session from before the promotion, which still works as a user's
    const first = await verifyToken(verifyDeps(), token)
    expect(first.ok && [...first.auth.scopes].sort()).toEqual([...USER_SCOPES].sort())
  })

  it('a user’s session token holds every user scope and not admin', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const result = await verifyToken(verifyDeps(), token)
    expect(result.ok && [...result.auth.scopes].sort()).toEqual([...USER_SCOPES].sort())
  })
})
