import { describe, expect, it } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, login, ping } from '../helpers/factories.js'
import { createPersonalToken, listTokens } from '../helpers/tokens.js'

const t = useTestApp()
const MISSING_ID = '00000000-0000-4000-8000-000000000000'

async function asAdmin () {
  const admin = await createLoggedInAdmin(t.context.app, t.context.db.database)
  const call = (method: 'GET' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    t.context.app.inject({
      method,
      url,
      headers: bearer(admin.token),
      ...(payload === undefined ? {} : { payload: payload as object }),
    })
  return { ...admin, call }
}

describe('admin authorization', () => {
  it.each([
    ['GET', '/v1/admin/users'],
    ['GET', `/v1/admin/users/${MISSING_ID}`],
    ['PATCH', `/v1/admin/users/${MISSING_ID}`],
    ['DELETE', `/v1/admin/users/${MISSING_ID}/tokens`],
    ['GET', `/v1/admin/users/${MISSING_ID}/rate-limit`],
    ['PUT', `/v1/admin/users/${MISSING_ID}/rate-limit`],
    ['DELETE', `/v1/admin/users/${MISSING_ID}/rate-limit`],
  ] as const)('%s %s: 401 without a token, 403 insufficient_scope for a non-admin', async (method, url) => {
    // with a body that passes validation (which runs before authentication)
    const payload = { max: 1, windowSeconds: 60 }
    expectError(await t.context.app.inject({ method, url, payload }), 401, 'token_missing')
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({ method, url, headers: bearer(token), payload })
    expectError(response, 403, 'insufficient_scope')
    expect(response.headers['www-authenticate']).toContain('scope="admin"')
  })

  it("reads the role per request: a demoted admin's token loses admin at once", async () => {
    const admin = await asAdmin()
    const other = await asAdmin()
    const demoted = await other.call('PATCH', `/v1/admin/users/${admin.user.id}`, { role: 'user' })
    expect(demoted.json().user).toMatchObject({ role: 'user', disabled: false })
    expectError(await admin.call('GET', '/v1/admin/users'), 403, 'insufficient_scope')
  })
})

describe('GET /v1/admin/users', () => {
  it('pages newest first with an opaque cursor, without gaps or repeats', async () => {
    const admin = await asAdmin()
    for (let i = 0; i < 4; i++) await createUser(t.context.app)
    const seen: string[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const url: string = `/v1/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`
      const response = await admin.call('GET', url)
      expect(response.statusCode).toBe(200)
      const body = response.json()
      seen.push(...body.users.map((u: { id: string }) => u.id))
      cursor = body.nextCursor
      pages += 1
    } while (cursor)
    expect(pages).toBe(3)
    const all = await t.context.db.database.sql<{ id: string }[]>`
      select id from users order by created_at desc, id desc`
    expect(seen).toEqual(all.map((row) => row.id))
  })

  it('continues from a cursor of the format earlier versions issued (created_at::text|id)', async () => {
    const admin = await asAdmin()
    for (let i = 0; i < 3; i++) await createUser(t.context.app)
    const first = (await admin.call('GET', '/v1/admin/users?limit=1')).json()
    const [position] = await t.context.db.database.sql<{ text: string }[]>`
      select created_at::text as text from users where id = ${first.users[0].id}`
    const legacy = Buffer.from(`${position?.text}|${first.users[0].id}`).toString('base64url')
    expect(legacy).not.toBe(first.nextCursor)
    const fromLegacy = await admin.call('GET', `/v1/admin/users?limit=2&cursor=${legacy}`)
    const fromCurrent = await admin.call('GET', `/v1/admin/users?limit=2&cursor=${first.nextCursor}`)
    expect(fromLegacy.statusCode).toBe(200)
    expect(fromLegacy.json()).toEqual(fromCurrent.json())
  })

  it('gives cursors in the format of the events listing (one codec)', async () => {
    const admin = await asAdmin()
    await createUser(t.context.app)
    const { nextCursor } = (await admin.call('GET', '/v1/admin/users?limit=1')).json()
    expect(Buffer.from(nextCursor, 'base64url').toString()).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\|[0-9a-f-]{36}$/
    )
  })

  it('filters by a case-insensitive substring of email or username, LIKE characters literal', async () => {
    const admin = await asAdmin()
    const match = await createUser(t.context.app, { username: 'Needle_user' })
    await createUser(t.context.app)
    const response = await admin.call('GET', '/v1/admin/users?q=NEEDLE')
    expect(response.json()).toEqual({
      users: [expect.objectContaining({ id: match.id, disabled: false })],
      nextCursor: null,
    })
    expect(response.json().users[0]).not.toHaveProperty('passwordHash')
    const percent = await admin.call('GET', '/v1/admin/users?q=%25')
    expect(percent.json().users).toEqual([])
  })

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['cursor=not-a-cursor'],
    ['cursor=%00'],
    [`q=${'x'.repeat(10_000)}`],
    ['q=%00'],
  ])('answers 400 validation_failed for ?%s', async (query) => {
    const admin = await asAdmin()
    expectError(
      await admin.call('GET', `/v1/admin/users?${query.slice(0, 20_000)}`),
      400,
      'validation_failed'
    )
  })
})

describe('GET and PATCH /v1/admin/users/:id', () => {
  it('shows a user with disabled; 404 for an unknown id; 400 for a non-UUID', async () => {
    const admin = await asAdmin()
    const user = await createUser(t.context.app)
    const response = await admin.call('GET', `/v1/admin/users/${user.id}`)
    expect(response.json()).toEqual({
      user: {
        id: user.id,
        email: user.email,
        username: user.username,
        role: 'user',
        emailVerified: false,
        createdAt: expect.any(String),
        disabled: false,
      },
    })
    expectError(await admin.call('GET', `/v1/admin/users/${MISSING_ID}`), 404, 'not_found')
    expectError(await admin.call('GET', '/v1/admin/users/not-a-uuid'), 400, 'validation_failed')
  })

  it('disabling revokes every token and login then answers account_disabled; enabling lets them back', async () => {
    const admin = await asAdmin()
    const { user, token } = await createLoggedInUser(t.context.app)
    const disabled = await admin.call('PATCH', `/v1/admin/users/${user.id}`, { disabled: true })
    expect(disabled.json().user.disabled).toBe(true)
    expectError(await ping(t.context.app, token), 401, 'token_revoked')
    const refused = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: user.password },
    })
    expectError(refused, 403, 'account_disabled')
    const events = await t.context.db.database.sql`
      select type, data from security_events where user_id = ${user.id} and type in ('user.updated', 'token.revoked')
      order by created_at`
    expect(events).toEqual([
      { type: 'user.updated', data: { by: admin.user.id, disabled: true } },
      { type: 'token.revoked', data: { by: admin.user.id, all: true, count: 1, reason: 'disabled' } },
    ])

    await admin.call('PATCH', `/v1/admin/users/${user.id}`, { disabled: false })
    await login(t.context.app, user)
  })

  it('promotes a user, whose session then holds the admin scope', async () => {
    const admin = await asAdmin()
    const { user, token } = await createLoggedInUser(t.context.app)
    const promoted = await admin.call('PATCH', `/v1/admin/users/${user.id}`, { role: 'admin' })
    expect(promoted.json().user.role).toBe('admin')
    const list = await t.context.app.inject({ url: '/v1/admin/users', headers: bearer(token) })
    expect(list.statusCode).toBe(200)
  })

  it('re-promoting a demoted admin does not revive their old tokens’ admin scope; a new login has it', async () => {
    const admin = await asAdmin()
    const other = await asAdmin()
    const pat = await createPersonalToken(t.context.app, admin.token, { scopes: ['admin', 'tokens:read'] })
    const listUsers = (token: string) => t.context.app.inject({ url: '/v1/admin/users', headers: bearer(token) })
    expect((await listUsers(pat.token)).statusCode).toBe(200)
    for (const role of ['user', 'admin']) {
      const response = await other.call('PATCH', `/v1/admin/users/${admin.user.id}`, { role })
      expect(response.json().user.role).toBe(role)
    }
    expectError(await listUsers(admin.token), 403, 'insufficient_scope')
    expectError(await listUsers(pat.token), 403, 'insufficient_scope')
    // they still work for everything else, and show what they hold now
    const tokens = await listTokens(t.context.app, pat.token)
    expect(tokens.find((token) => token.id === pat.id)?.scopes).toEqual(['tokens:read'])
    expect(tokens.find((token) => token.id === admin.tokenId)?.scopes).not.toContain('admin')
    const fresh = await login(t.context.app, admin.user)
    expect((await listUsers(fresh.token)).statusCode).toBe(200)
  })

  it('lists a user’s session with the scopes the role gives it, admin only once promoted', async () => {
    const admin = await asAdmin()
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    const sessionScopes = async () =>
      (await listTokens(t.context.app, token)).find((listed) => listed.id === tokenId)?.scopes
    expect(await sessionScopes()).toEqual(['profile:read', 'profile:write', 'tokens:read', 'tokens:write'])
    await admin.call('PATCH', `/v1/admin/users/${user.id}`, { role: 'admin' })
    expect(await sessionScopes()).toEqual(['profile:read', 'profile:write', 'tokens:read', 'tokens:write', 'admin', 'tokens:introspect'])
  })

  it('refuses to let an admin demote or disable themselves (403 forbidden)', async () => {
    const admin = await asAdmin()
    for (const body of [{ role: 'user' }, { disabled: true }]) {
      expectError(await admin.call('PATCH', `/v1/admin/users/${admin.user.id}`, body), 403, 'forbidden')
    }
    expect((await admin.call('GET', '/v1/admin/users')).statusCode).toBe(200)
  })

  it.each([
    [{ role: 'root' }],
    [{ role: 1 }],
    [{ disabled: 'yes' }],
    [{ disabled: 1 }],
    [{ role: 'x'.repeat(10_000) }],
    [{ role: 'admin\u0000' }],
    [['an', 'array']],
  ])('answers 400 for the body %j', async (body) => {
    const admin = await asAdmin()
    const user = await createUser(t.context.app)
    expectError(await admin.call('PATCH', `/v1/admin/users/${user.id}`, body), 400, 'validation_failed')
  })

  it('answers 404 for an unknown id and 400 invalid_json for a broken body', async () => {
    const admin = await asAdmin()
    expectError(
      await admin.call('PATCH', `/v1/admin/users/${MISSING_ID}`, { role: 'user' }),
      404,
      'not_found'
    )
    const broken = await t.context.app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${admin.user.id}`,
      headers: { ...bearer(admin.token), 'content-type': 'application/json' },
      payload: '{"role":',
    })
    expectError(broken, 400, 'invalid_json')
  })
})

describe('DELETE /v1/admin/users/:id/tokens', () => {
  it("revokes all the user's tokens and records token.revoked", async () => {
    const admin = await asAdmin()
    const { user, token } = await createLoggedInUser(t.context.app)
    const second = await login(t.context.app, user)
    expect((await admin.call('DELETE', `/v1/admin/users/${user.id}/tokens`)).statusCode).toBe(204)
    for (const presented of [token, second.token]) {
      expectError(
        await ping(t.context.app, presented),
        401,
        'token_revoked'
      )
    }
    const [event] = await t.context.db.database.sql`
      select data from security_events where user_id = ${user.id} and type = 'token.revoked'`
    expect(event?.data).toEqual({ by: admin.user.id, all: true, count: 2, reason: 'admin' })
  })

  it('answers 404 for an unknown user and 400 for a non-UUID', async () => {
    const admin = await asAdmin()
    expectError(await admin.call('DELETE', `/v1/admin/users/${MISSING_ID}/tokens`), 404, 'not_found')
    expectError(await admin.call('DELETE', '/v1/admin/users/123/tokens'), 400, 'validation_failed')
  })
})

describe('/v1/admin/users/:id/rate-limit', () => {
  it.each([
    [{ max: -1, windowSeconds: 60 }],
    [{ max: 1.5, windowSeconds: 60 }],
    [{ max: '5', windowSeconds: 60 }],
    [{ max: 5, windowSeconds: 0 }],
    [{ max: 5, windowSeconds: 86_401 }],
    [{ max: 5 }],
    [{ windowSeconds: 60 }],
    [{ max: 'x'.repeat(10_000), windowSeconds: 60 }],
  ])('answers 400 for the body %j', async (body) => {
    const admin = await asAdmin()
    const user = await createUser(t.context.app)
    expectError(
      await admin.call('PUT', `/v1/admin/users/${user.id}/rate-limit`, body),
      400,
      'validation_failed'
    )
  })

  it('answers 404 for an unknown user on GET, PUT and DELETE, and 400 for a non-UUID', async () => {
    const admin = await asAdmin()
    const url = `/v1/admin/users/${MISSING_ID}/rate-limit`
    expectError(await admin.call('GET', url), 404, 'not_found')
    expectError(await admin.call('PUT', url, { max: 1, windowSeconds: 1 }), 404, 'not_found')
    expectError(await admin.call('DELETE', url), 404, 'not_found')
    expectError(await admin.call('GET', '/v1/admin/users/nope/rate-limit'), 400, 'validation_failed')
  })

  it('reports each source: default, role, user; DELETE is idempotent', async () => {
    const admin = await asAdmin()
    const user = await createUser(t.context.app)
    const url = `/v1/admin/users/${user.id}/rate-limit`
    expect((await admin.call('GET', url)).json()).toEqual({ max: 600, windowSeconds: 60, source: 'default' })
    expect((await admin.call('GET', `/v1/admin/users/${admin.user.id}/rate-limit`)).json()).toEqual({
      max: null,
      windowSeconds: 60,
      source: 'role',
    })
    await admin.call('PUT', url, { max: 0, windowSeconds: 10 })
    expect((await admin.call('GET', url)).json()).toEqual({ max: 0, windowSeconds: 10, source: 'user' })
    expect((await admin.call('DELETE', url)).statusCode).toBe(204)
    expect((await admin.call('DELETE', url)).statusCode).toBe(204)
    expect((await admin.call('GET', url)).json().source).toBe('default')
  })
})
