import { beforeEach, describe, expect, it } from 'vitest'
import { TOKEN_PATTERN } from '../../src/tokens/token-format.js'
import { promoteToAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError, login, ping } from '../helpers/factories.js'
import { createPersonalToken, listTokens } from '../helpers/tokens.js'

const START = new Date('2030-01-01T00:00:00.000Z')
let clock = START
const t = useTestApp({ now: () => clock })
// every test starts at the same time, whatever the one before it did to the clock
beforeEach(() => {
  clock = START
})
const DAY_MS = 86_400_000

describe('GET /v1/me/tokens', () => {
  it('lists my active tokens newest first, marks the current one, never shows a secret', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z')
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    clock = new Date('2030-01-01T00:01:00.000Z')
    const second = await login(t.context.app, user)
    clock = new Date('2030-01-01T00:02:00.000Z')
    const pat = await createPersonalToken(t.context.app, token, { name: 'ci', scopes: ['profile:read'] })
    const response = await t.context.app.inject({
      url: '/v1/me/tokens',
      headers: { ...bearer(second.token), 'user-agent': 'curl/8' },
    })
    expect(response.statusCode).toBe(200)
    const { tokens } = response.json()
    expect(tokens.map((x: { id: string }) => x.id)).toEqual([pat.id, second.tokenId, tokenId])
    expect(tokens[0]).toEqual({
      id: pat.id,
      name: 'ci',
      kind: 'personal',
      scopes: ['profile:read'],
      createdAt: expect.any(String),
      expiresAt: new Date(clock.getTime() + 90 * DAY_MS).toISOString(),
      lastUsedAt: null,
      lastUsedIp: null,
      userAgent: 'lightMyRequest',
      current: false,
      rateLimit: null,
    })
    expect(tokens[1]).toMatchObject({ kind: 'session', current: true })
    expect(tokens[2]).toMatchObject({ kind: 'session', current: false })
    expect(response.body).not.toContain(token)
    expect(response.body).not.toMatch(TOKEN_PATTERN)
  })

  it('omits revoked and expired tokens, and other users’ tokens', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z')
    const { token } = await createLoggedInUser(t.context.app)
    await createLoggedInUser(t.context.app)
    const shortLived = await createPersonalToken(t.context.app, token, {
      scopes: ['profile:read'],
      expiresInDays: 1,
    })
    const revoked = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    await t.context.app.inject({
      method: 'DELETE',
      url: `/v1/me/tokens/${revoked.id}`,
      headers: bearer(token),
    })
    expect((await listTokens(t.context.app, token)).map((x) => x.id)).toContain(shortLived.id)
    clock = new Date(clock.getTime() + 2 * DAY_MS)
    const ids = (await listTokens(t.context.app, token)).map((x) => x.id)
    expect(ids).toHaveLength(1)
    expect(ids).not.toContain(shortLived.id)
    expect(ids).not.toContain(revoked.id)
  })
})

describe('expiry', () => {
  it('answers 401 token_expired once a personal token’s lifetime has passed', async () => {
    clock = new Date('2030-01-01T00:00:00.000Z')
    const { token } = await createLoggedInUser(t.context.app)
    const pat = await createPersonalToken(t.context.app, token, {
      scopes: ['profile:read'],
      expiresInDays: 1,
    })
    clock = new Date(clock.getTime() + DAY_MS - 1000)
    expect((await ping(t.context.app, pat.token)).statusCode).toBe(200)
    clock = new Date(clock.getTime() + 1000)
    const response = await ping(t.context.app, pat.token)
    expectError(response, 401, 'token_expired')
    expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera", error="invalid_token"')
  })
})

describe('POST /v1/me/tokens', () => {
  it('creates a personal token shown once, with no-store, an event and a mail without the secret', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload: { name: 'backup script', scopes: ['profile:read', 'tokens:read'], expiresInDays: 7 },
    })
    expect(response.statusCode).toBe(201)
    expect(response.headers['cache-control']).toBe('no-store')
    const body = response.json()
    expect(Object.keys(body).sort()).toEqual(['token', 'tokenInfo'])
    expect(body.token).toMatch(/^tsr_pat_[A-Za-z0-9_-]{49}$/)
    expect(body.tokenInfo).toMatchObject({
      name: 'backup script',
      kind: 'personal',
      scopes: ['profile:read', 'tokens:read'],
      expiresAt: new Date(clock.getTime() + 7 * DAY_MS).toISOString(),
      current: false,
    })
    // it works, with exactly its scopes
    expect((await t.context.app.inject({ url: '/v1/me', headers: bearer(body.token) })).statusCode).toBe(200)
    expectError(
      await t.context.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(body.token),
        payload: {},
      }),
      403,
      'insufficient_scope'
    )
    const { sql } = t.context.db.database
    const [event] = await sql`select * from security_events where type = 'token.created'`
    expect(event).toMatchObject({ user_id: user.id, token_id: body.tokenInfo.id })
    // besides the verification mail sent at registration
    const mails = await sql`
      select * from mail_outbox where recipient = ${user.email} and subject like '%personal token%'`
    expect(mails).toHaveLength(1)
    expect(mails[0]?.subject).toContain('Tessera')
    expect(mails[0]?.body_text).toContain('backup script')
    expect(mails[0]?.body_text).toContain('profile:read, tokens:read')
    expect(mails[0]?.body_text).not.toContain(body.token)
    const [stored] =
      await sql`select count(*)::int as n from auth_tokens where token_hash::text like ${`%${body.token}%`}`
    expect(stored?.n).toBe(0)
  })

  it('answers 403 forbidden, never a narrowed token, for a scope the role does not allow', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload: { name: 'x', scopes: ['profile:read', 'admin'] },
    })
    const body = expectError(response, 403, 'forbidden')
    expect(body.message).toContain('admin')
    expect(await listTokens(t.context.app, token)).toHaveLength(1)
  })

  it('answers 403 forbidden for a scope the creating token lacks', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const writer = await createPersonalToken(t.context.app, token, { scopes: ['tokens:write'] })
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(writer.token),
      payload: { name: 'escalate', scopes: ['profile:write'] },
    })
    expect(expectError(response, 403, 'forbidden').message).toContain('profile:write')
  })

  it('lets an admin create an admin-scoped token', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    await promoteToAdmin(t.context.db.database, user.id)
    const admin = await login(t.context.app, user)
    const pat = await createPersonalToken(t.context.app, admin.token, { scopes: ['admin'] })
    expect(pat.token).toMatch(/^tsr_pat_/)
    expect(token).not.toBe(admin.token)
  })

  it.each([
    ['no body fields', {}, '/name'],
    ['an unknown scope', { name: 'x', scopes: ['profile:read', 'root'] }, '/scopes/1'],
    ['empty scopes', { name: 'x', scopes: [] }, '/scopes'],
    ['duplicate scopes', { name: 'x', scopes: ['profile:read', 'profile:read'] }, '/scopes'],
    ['scopes as a string', { name: 'x', scopes: 'profile:read' }, '/scopes'],
    ['a lifetime of 0 days', { name: 'x', scopes: ['profile:read'], expiresInDays: 0 }, '/expiresInDays'],
    ['a lifetime of 366 days', { name: 'x', scopes: ['profile:read'], expiresInDays: 366 }, '/expiresInDays'],
    ['a fractional lifetime', { name: 'x', scopes: ['profile:read'], expiresInDays: 1.5 }, '/expiresInDays'],
    [
      'a lifetime as a string',
      { name: 'x', scopes: ['profile:read'], expiresInDays: '30' },
      '/expiresInDays',
    ],
    ['an empty name', { name: '', scopes: ['profile:read'] }, '/name'],
    ['a 10,000-character name', { name: 'n'.repeat(10_000), scopes: ['profile:read'] }, '/name'],
    ['a NUL byte in the name', { name: 'a\u0000b', scopes: ['profile:read'] }, '/name'],
    ['a number as the name', { name: 42, scopes: ['profile:read'] }, '/name'],
    ['1,000 scopes', { name: 'x', scopes: Array(1000).fill('profile:read') }, '/scopes'],
  ])('answers 400 validation_failed for %s', async (_case, payload, path) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(token),
      payload,
    })
    const body = expectError(response, 400, 'validation_failed')
    expect((body.details as Array<{ path: string }>).map((d) => d.path)).toContain(path)
  })

  it('answers 400 invalid_json and 415 for bodies that are not JSON', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const headers = bearer(token)
    expectError(
      await t.context.app.inject({
        method: 'POST',
        url: '/v1/me/tokens',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: '{"name":',
      }),
      400,
      'invalid_json'
    )
    expectError(
      await t.context.app.inject({
        method: 'POST',
        url: '/v1/me/tokens',
        headers: { ...headers, 'content-type': 'text/plain' },
        payload: 'name=x',
      }),
      415,
      'unsupported_media_type'
    )
  })

  it('answers 401 without a token', async () => {
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      payload: { name: 'x', scopes: ['profile:read'] },
    })
    expectError(response, 401, 'token_missing')
  })
})

describe('the active token cap', () => {
  it('answers 409 token_limit_reached past MAX_ACTIVE_TOKENS_PER_USER, and frees a slot on revoke', async () => {
    await t.setup({ env: { MAX_ACTIVE_TOKENS_PER_USER: '3' } })
    const { token } = await createLoggedInUser(t.context.app)
    await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const second = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const create = () =>
      t.context.app.inject({
        method: 'POST',
        url: '/v1/me/tokens',
        headers: bearer(token),
        payload: { name: 'one too many', scopes: ['profile:read'] },
      })
    expectError(await create(), 409, 'token_limit_reached')
    await t.context.app.inject({
      method: 'DELETE',
      url: `/v1/me/tokens/${second.id}`,
      headers: bearer(token),
    })
    expect((await create()).statusCode).toBe(201)
  })

  it('never overshoots with concurrent creations', async () => {
    await t.setup({ env: { MAX_ACTIVE_TOKENS_PER_USER: '5' } })
    const { token } = await createLoggedInUser(t.context.app)
    const responses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        t.context.app.inject({
          method: 'POST',
          url: '/v1/me/tokens',
          headers: bearer(token),
          payload: { name: `parallel ${i}`, scopes: ['profile:read'] },
        })
      )
    )
    const statuses = responses.map((r) => r.statusCode).sort()
    expect(statuses).toEqual([201, 201, 201, 201, 409, 409, 409, 409, 409, 409])
    expect(await listTokens(t.context.app, token)).toHaveLength(5)
  })

  it('login past the cap revokes the oldest session token, not a personal one', async () => {
    await t.setup({ env: { MAX_ACTIVE_TOKENS_PER_USER: '3' } })
    clock = new Date('2030-01-01T00:00:00.000Z')
    const { user, token: oldest } = await createLoggedInUser(t.context.app)
    clock = new Date('2030-01-01T00:00:01.000Z')
    await createPersonalToken(t.context.app, oldest, { scopes: ['profile:read'] })
    clock = new Date('2030-01-01T00:00:02.000Z')
    const middle = await login(t.context.app, user)
    clock = new Date('2030-01-01T00:00:03.000Z')
    const newest = await login(t.context.app, user)
    expectError(await ping(t.context.app, oldest), 401, 'token_revoked')
    expect((await ping(t.context.app, middle.token)).statusCode).toBe(200)
    const kinds = (await listTokens(t.context.app, newest.token)).map((x) => x.kind)
    expect(kinds.sort()).toEqual(['personal', 'session', 'session'])
  })
})

describe('DELETE /v1/me/tokens/:id', () => {
  it('revokes one of my tokens: 204, then 401 token_revoked with it; repeating is 204', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const leaked = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const revoke = () =>
      t.context.app.inject({ method: 'DELETE', url: `/v1/me/tokens/${leaked.id}`, headers: bearer(token) })
    const first = await revoke()
    expect(first.statusCode).toBe(204)
    expect(first.body).toBe('')
    expectError(await ping(t.context.app, leaked.token), 401, 'token_revoked')
    expect((await revoke()).statusCode).toBe(204)
    const events = await t.context.db.database.sql`select * from security_events where type = 'token.revoked'`
    expect(events).toHaveLength(1)
  })

  it('can revoke the presenting token itself', async () => {
    const { token, tokenId } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'DELETE',
      url: `/v1/me/tokens/${tokenId}`,
      headers: bearer(token),
    })
    expect(response.statusCode).toBe(204)
    expectError(await ping(t.context.app, token), 401, 'token_revoked')
  })

  it('answers 404 not_found for someone else’s token and for an unknown id, leaving it alive', async () => {
    const alice = await createLoggedInUser(t.context.app)
    const bob = await createLoggedInUser(t.context.app)
    for (const id of [bob.tokenId, '00000000-0000-4000-8000-000000000000']) {
      const response = await t.context.app.inject({
        method: 'DELETE',
        url: `/v1/me/tokens/${id}`,
        headers: bearer(alice.token),
      })
      expectError(response, 404, 'not_found')
    }
    expect((await ping(t.context.app, bob.token)).statusCode).toBe(200)
  })

  it.each(['not-a-uuid', '1', `${'a'.repeat(10_000)}`, '%00'])('answers 400 for the id %#', async (id) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'DELETE',
      url: `/v1/me/tokens/${id}`,
      headers: bearer(token),
    })
    expectError(response, 400, 'validation_failed')
  })
})

describe('POST /v1/auth/logout-all', () => {
  it('revokes every token of mine, the presenting one included, and nobody else’s', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const other = await login(t.context.app, user)
    const pat = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const stranger = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/logout-all',
      headers: bearer(other.token),
    })
    expect(response.statusCode).toBe(204)
    for (const revoked of [token, other.token, pat.token]) { expectError(await ping(t.context.app, revoked), 401, 'token_revoked') }
    expect((await ping(t.context.app, stranger.token)).statusCode).toBe(200)
    const [event] = await t.context.db.database.sql`select * from security_events where type = 'logout'`
    expect(event?.data).toEqual({ all: true, revokedTokens: 3 })
  })
})

describe('POST /v1/tokens/revoke', () => {
  it('revokes a leaked token without logging in', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const leaked = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/tokens/revoke',
      payload: { token: leaked.token },
    })
    expect(response.statusCode).toBe(202)
    expect(response.json()).toEqual({ status: 'accepted', message: expect.any(String) })
    expectError(await ping(t.context.app, leaked.token), 401, 'token_revoked')
    expect((await ping(t.context.app, token)).statusCode).toBe(200)
  })

  it('gives the same answer for a dead token, an unknown token and a string that is no token', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const dead = await createPersonalToken(t.context.app, token, { scopes: ['profile:read'] })
    await t.context.app.inject({ method: 'POST', url: '/v1/tokens/revoke', payload: { token: dead.token } })
    const unknown = `tsr_pat_${'A'.repeat(49)}`
    const answers = []
    for (const candidate of [dead.token, unknown, 'hello', '', 'x'.repeat(10_000), 'a\u0000b']) {
      const response = await t.context.app.inject({
        method: 'POST',
        url: '/v1/tokens/revoke',
        payload: { token: candidate },
      })
      answers.push([response.statusCode, response.body])
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1)
    expect(answers[0]).toEqual([202, expect.stringContaining('"status":"accepted"')])
  })

  it.each([
    ['a missing token', {}],
    ['a number', { token: 42 }],
    ['null', { token: null }],
    ['an array', { token: ['tsr_pat_x'] }],
  ])('answers 400 validation_failed for %s', async (_case, payload) => {
    const response = await t.context.app.inject({ method: 'POST', url: '/v1/tokens/revoke', payload })
    expectError(response, 400, 'validation_failed')
  })
})
