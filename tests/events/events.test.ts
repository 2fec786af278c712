import { describe, expect, it } from 'vitest'
import { pruneEvents } from '../../src/events/events-service.js'
import { createScopeCatalog } from '../../src/tokens/scopes.js'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { testConfig, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError, login } from '../helpers/factories.js'

const t = useTestApp()

const createAdmin = () => createLoggedInAdmin(t.context.app, t.context.db.database)

const get = (url: string, token: string) => t.context.app.inject({ url, headers: bearer(token) })
const types = (response: { json: () => { events: { type: string }[] } }) =>
  response.json().events.map((event) => event.type)

describe('GET /v1/me/events', () => {
  it('lists the caller’s own events, newest first, in the documented shape', async () => {
    const { user, token, tokenId } = await createLoggedInUser(t.context.app)
    await createLoggedInUser(t.context.app)
    const response = await get('/v1/me/events', token)
    expect(response.statusCode).toBe(200)
    const body = response.json()
    expect(types(response)).toEqual(['login.succeeded', 'user.registered'])
    expect(body.nextCursor).toBeNull()
    expect(body.events[0]).toEqual({
      id: expect.any(String),
      type: 'login.succeeded',
      userId: user.id,
      tokenId,
      ip: '127.0.0.1',
      userAgent: 'lightMyRequest',
      createdAt: expect.stringMatching(/Z$/),
      data: {},
    })
  })

  it('records failed logins on the account without telling the caller', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: 'wrong-password' },
    })
    expect(types(await get('/v1/me/events', token))[0]).toBe('login.failed')
  })

  it('pages with an opaque cursor, without repeats or gaps', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    for (let i = 0; i < 4; i++) await login(t.context.app, user)
    const seen: string[] = []
    let cursor: string | null = null
    do {
      const page: ReturnType<typeof JSON.parse> = (
        await get(`/v1/me/events?limit=2${cursor ? `&cursor=${cursor}` : ''}`, token)
      ).json()
      expect(page.events.length).toBeLessThanOrEqual(2)
      seen.push(...page.events.map((event: { id: string }) => event.id))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toHaveLength(6)
    expect(new Set(seen).size).toBe(6)
  })

  it.each([
    ['limit=0'],
    ['limit=101'],
    ['limit=abc'],
    ['cursor=not-a-cursor'],
    [`cursor=${Buffer.from('2020-01-01T00:00:00.000000Z|nope').toString('base64url')}`],
    [`cursor=${'a'.repeat(10_000)}`],
  ])('answers 400 validation_failed for ?%s', async (query) => {
    const { token } = await createLoggedInUser(t.context.app)
    expectError(await get(`/v1/me/events?${query}`, token), 400, 'validation_failed')
  })

  it('answers 401 without a token', async () => {
    expectError(await t.context.app.inject({ url: '/v1/me/events' }), 401, 'token_missing')
  })
})

describe('GET /v1/admin/events', () => {
  it('shows everyone’s events to an admin, filtered by user and type', async () => {
    const admin = await createAdmin()
    const alice = await createLoggedInUser(t.context.app)
    const bob = await createLoggedInUser(t.context.app)

    const all = await get('/v1/admin/events?limit=100', admin.token)
    expect(all.statusCode).toBe(200)
    const userIds = new Set(all.json().events.map((event: { userId: string }) => event.userId))
    expect(userIds).toEqual(new Set([admin.user.id, alice.user.id, bob.user.id]))

    const aliceOnly = await get(`/v1/admin/events?userId=${alice.user.id}`, admin.token)
    expect(aliceOnly.json().events.every((e: { userId: string }) => e.userId === alice.user.id)).toBe(true)
    expect(types(aliceOnly)).toEqual(['login.succeeded', 'user.registered'])

    const registrations = await get('/v1/admin/events?type=user.registered', admin.token)
    expect(types(registrations)).toEqual(['user.registered', 'user.registered', 'user.registered'])

    const both = await get(`/v1/admin/events?type=login.succeeded&userId=${bob.user.id}`, admin.token)
    expect(both.json().events).toHaveLength(1)
  })

  it('answers 403 insufficient_scope to a non-admin', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await get('/v1/admin/events', token)
    expectError(response, 403, 'insufficient_scope')
  })

  it.each([['userId=not-a-uuid'], ['type=no.such.type'], ['limit=1000']])(
    'answers 400 validation_failed for ?%s',
    async (query) => {
      const admin = await createAdmin()
      expectError(await get(`/v1/admin/events?${query}`, admin.token), 400, 'validation_failed')
    }
  )
})

describe('pruneEvents', () => {
  it('deletes events older than the retention period and returns the count', async () => {
    await createUser(t.context.app)
    const { database } = t.context.db
    const { sql } = database
    await sql`update security_events set created_at = now() - interval '400 days'`
    await createUser(t.context.app)
    const deps = { database, now: () => new Date(), config: testConfig(), scopes: createScopeCatalog({}) }
    expect(await pruneEvents(deps, 365)).toBe(1)
    expect(await sql`select 1 from security_events`).toHaveLength(1)
  })
})
