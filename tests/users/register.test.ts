import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { createUser, expectError } from '../helpers/factories.js'
import { expectNoSecrets, expectUser } from '../helpers/expect-user.js'

const t = useTestApp()

const register = (payload: unknown) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/register', payload: payload as object })

const valid = { email: 'Ada@Example.com', username: 'ada_lovelace', password: 'Analytical-Engine-1843' }

describe('POST /v1/auth/register', () => {
  it('answers 201 with exactly {user}, and no password or hash anywhere', async () => {
    const response = await register(valid)
    expect(response.statusCode).toBe(201)
    const body = response.json()
    expect(Object.keys(body)).toEqual(['user'])
    expectUser(body.user, {
      email: 'Ada@Example.com',
      username: 'ada_lovelace',
      role: 'user',
      emailVerified: false,
    })
    expectNoSecrets(response.body, valid.password)
  })

  it('stores a hash, never the password', async () => {
    await register(valid)
    const [row] = await t.context.db.database.sql`select password_hash from users`
    expect(row?.password_hash).toMatch(/^\$argon2id\$/)
    expect(row?.password_hash).not.toContain(valid.password)
  })

  it('ignores unknown properties (never applies them)', async () => {
    const response = await register({ ...valid, role: 'admin', emailVerified: true, id: 'x', extra: 1 })
    expect(response.statusCode).toBe(201)
    expectUser(response.json().user, { role: 'user', emailVerified: false })
  })

  it.each([
    ['email_taken', { email: 'ADA@example.COM', username: 'someone_else' }],
    ['username_taken', { email: 'other@example.com', username: 'ADA_LoveLace' }],
  ])('answers 409 %s, case-insensitively', async (code, change) => {
    await createUser(t.context.app, valid)
    expectError(await register({ ...valid, ...change }), 409, code)
  })

  it.each([
    ['too short', 'Short-1'],
    ['too long (1025)', 'x'.repeat(1025)],
    ['a common password', 'password123'],
    ['the username', 'ada_lovelace'],
    ['the username in other case', 'ADA_LOVELACE'],
    ['the email', 'ada@example.com'],
  ])('answers 400 validation_failed at /password for a password that is %s', async (_, password) => {
    const body = expectError(await register({ ...valid, password }), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/password' })]))
  })

  it('accepts a password of exactly 8 and of exactly 1024 characters', async () => {
    expect((await register({ ...valid, password: 'Qz7-vb!k' })).statusCode).toBe(201)
    const long = await register({
      email: 'b@example.com',
      username: 'bob',
      password: `${'Qz7'.repeat(341)}x`,
    })
    expect(long.statusCode).toBe(201)
  })

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['with a space', 'ada lovelace'],
    ['with a slash', 'ada/lovelace'],
    ['with an @', 'ada@home'],
    ['non-ASCII', 'adé_lovelace'],
  ])('answers 400 validation_failed at /username for a username %s', async (_, username) => {
    const body = expectError(await register({ ...valid, username }), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/username' })]))
  })

  it.each([
    ['longer than 254', `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`],
    ['not an address', 'not-an-email'],
    ['empty', ''],
  ])('answers 400 validation_failed at /email for an email %s', async (_, email) => {
    const body = expectError(await register({ ...valid, email }), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/email' })]))
  })

  it.each([
    ['missing email', { username: 'ada', password: valid.password }, '/email'],
    ['missing password', { email: valid.email, username: 'ada' }, '/password'],
    ['a number as username', { ...valid, username: 12345 }, '/username'],
    ['a number as password', { ...valid, password: 1234567890 }, '/password'],
    ['a boolean as email', { ...valid, email: true }, '/email'],
    ['null as username', { ...valid, username: null }, '/username'],
  ])('answers 400 validation_failed for %s (never coerced)', async (_, payload, path) => {
    const body = expectError(await register(payload), 400, 'validation_failed')
    expect(body.details).toEqual(expect.arrayContaining([expect.objectContaining({ path })]))
  })

  it.each([
    ['an array', []],
    ['a string', 'hello'],
    ['a number', 42],
    ['null', null],
  ])('answers 400 validation_failed for a JSON body that is %s', async (_, payload) => {
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/register',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(payload),
    })
    expectError(response, 400, 'validation_failed')
  })
})
