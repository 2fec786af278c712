import { describe, expect, it } from 'vitest'
import { createPasswordHasher } from '../../src/users/passwords.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createUser, expectError } from '../helpers/factories.js'
import { expectNoSecrets, expectUser } from '../helpers/expect-user.js'

const t = useTestApp()

const loginWith = (payload: unknown) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/login', payload: payload as object })

describe('POST /v1/auth/login: body rules', () => {
  it('answers 200 with the API.md shape and a usable token', async () => {
    const user = await createUser(t.context.app)
    const response = await loginWith({ email: user.email, password: user.password })
    expect(response.statusCode).toBe(200)
    expect(response.headers['cache-control']).toBe('no-store')
    const body = response.json()
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'token', 'tokenId', 'tokenType', 'user'])
    expect(body.tokenType).toBe('Bearer')
    expectUser(body.user, { id: user.id, email: user.email })
    // the default session lifetime, from the server's clock
    const ttlMs = Date.parse(body.expiresAt) - Date.now()
    expect(ttlMs).toBeGreaterThan(604_800_000 - 60_000)
    expect(ttlMs).toBeLessThanOrEqual(604_800_000)
    expectNoSecrets(response.body, user.password)
  })

  it('stores the tokenName and only the digest of the token', async () => {
    const user = await createUser(t.context.app)
    const response = await loginWith({
      username: user.username,
      password: user.password,
      tokenName: 'laptop',
    })
    const { token, tokenId } = response.json()
    const rows = await t.context.db.database
      .sql`select name, token_hash from auth_tokens where id = ${tokenId}`
    expect(rows[0]?.name).toBe('laptop')
    expect(Buffer.from(rows[0]?.token_hash).toString('latin1')).not.toContain(token)
  })

  it.each([
    [
      'both username and email',
      (u: { username: string; email: string }) => ({ username: u.username, email: u.email }),
    ],
    ['neither username nor email', () => ({})],
  ])('answers 400 validation_failed for %s', async (_, identity) => {
    const user = await createUser(t.context.app)
    const body = expectError(
      await loginWith({ ...identity(user), password: user.password }),
      400,
      'validation_failed'
    )
    expect(body.details).toEqual([
      expect.objectContaining({ path: expect.stringMatching(/^\/(username|email)$/) }),
    ])
  })

  it.each([
    ['a number as username', { username: 12345, password: 'whatever-pass' }, '/username'],
    ['a number as password', { username: 'someone', password: 12345678 }, '/password'],
    ['a number as tokenName', { username: 'someone', password: 'whatever-pass', tokenName: 7 }, '/tokenName'],
    ['an object as email', { email: { $ne: null }, password: 'whatever-pass' }, '/email'],
    ['a missing password', { username: 'someone' }, '/password'],
    ['an empty tokenName', { username: 'someone', password: 'whatever-pass', tokenName: '' }, '/tokenName'],
    [
      'a 101-char tokenName',
      { username: 'someone', password: 'x-pass-1', tokenName: 'n'.repeat(101) },
      '/tokenName',
    ],
  ])('answers 400 validation_failed for %s (never coerced)', async (_, payload, path) => {
    const body = expectError(await loginWith(payload), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]))
  })

  it('upgrades a hash made with older cost parameters at the next login', async () => {
    const user = await createUser(t.context.app)
    const old = await createPasswordHasher({ memoryKib: 2048, timeCost: 1, parallelism: 1 }).hash(
      user.password
    )
    await t.context.db.database.sql`update users set password_hash = ${old} where id = ${user.id}`
    const response = await loginWith({ username: user.username, password: user.password })
    expect(response.statusCode).toBe(200)
    const [row] = await t.context.db.database.sql`select password_hash from users where id = ${user.id}`
    expect(row?.password_hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
    const again = await loginWith({ username: user.username, password: user.password })
    expect(again.statusCode).toBe(200)
  })

  it('answers 403 account_disabled only after a correct password', async () => {
    const user = await createUser(t.context.app)
    await t.context.db.database.sql`update users set disabled = true where id = ${user.id}`
    expectError(
      await loginWith({ username: user.username, password: 'wrong-password-x' }),
      401,
      'invalid_credentials'
    )
    expectError(
      await loginWith({ username: user.username, password: user.password }),
      403,
      'account_disabled'
    )
  })

  it('answers 403 email_unverified when verification is required', async () => {
    await t.setup({ env: { REQUIRE_EMAIL_VERIFICATION: 'true' } })
    const user = await createUser(t.context.app)
    expectError(
      await loginWith({ username: user.username, password: user.password }),
      403,
      'email_unverified'
    )
    await t.context.db.database.sql`update users set email_verified_at = now() where id = ${user.id}`
    const ok = await loginWith({ username: user.username, password: user.password })
    expect(ok.statusCode).toBe(200)
    const me = await t.context.app.inject({ url: '/v1/me', headers: bearer(ok.json().token) })
    expect(me.json().user.emailVerified).toBe(true)
  })
})
