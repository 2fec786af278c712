import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it, vi } from 'vitest'
import { TEST_ENV, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError } from '../helpers/factories.js'
import { latestToken, RESET_SUBJECT } from '../helpers/mail.js'

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url))
const t = useTestApp()

/** Runs `tessera` as an operator would: a separate process on the test database. */
function tessera (...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, ...TEST_ENV, DATABASE_URL: t.context.db.url }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    )
  })
}

describe('the tessera CLI', () => {
  it('prints help and exits 0', async () => {
    const result = await tessera('--help')
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('rate-limit set <user> --max <N|unlimited>')
  })

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['users'], '"users" needs one of: promote, demote, disable, enable'],
    [['users', 'promote'], 'users promote needs a <user>'],
    [['rate-limit', 'set', 'alice'], 'rate-limit set needs --max'],
    [['rate-limit', 'set', 'alice', '--max', 'lots'], '--max must be an integer'],
    [['rate-limit', 'set', 'alice', '--max', '5', '--window', '0'], '--window must be a number of seconds'],
    // the bounds of PUT /v1/admin/users/:id/rate-limit's body, read from its schema
    [['rate-limit', 'set', 'alice', '--max', '1000000001'], '--max must be an integer from 0 to 1000000000'],
    [['rate-limit', 'set', 'alice', '--max', '5', '--window', '86401'], 'seconds from 1 to 86400 (got "86401")'],
    [['users', 'promote', 'alice', '--max', '5'], '--max and --window only apply to rate-limit set'],
    [['users', 'promote', 'alice', '--bogus'], "Unknown option '--bogus'"],
  ])('exits 2 with a clear message for %j', async (args, message) => {
    const result = await tessera(...args)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(message)
    expect(result.stdout).toBe('')
  })

  it('exits 1 for an unknown user', async () => {
    const result = await tessera('users', 'promote', 'nobody_here')
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('No user with the username or email "nobody_here"')
  })

  it('promotes, demotes, disables and enables by username or email', async () => {
    const user = await createUser(t.context.app)
    const promoted = await tessera('users', 'promote', user.email)
    expect(promoted).toMatchObject({ code: 0, stdout: `${user.username} <${user.email}> is now an admin.\n` })
    const row = async () =>
      (await t.context.db.database.sql`select role, disabled from users where id = ${user.id}`)[0]
    expect(await row()).toEqual({ role: 'admin', disabled: false })
    expect((await tessera('users', 'demote', user.username)).code).toBe(0)
    expect((await tessera('users', 'disable', user.username)).stdout).toContain('is disabled')
    expect(await row()).toEqual({ role: 'user', disabled: true })
    expect((await tessera('users', 'enable', user.username)).code).toBe(0)
    expect(await row()).toEqual({ role: 'user', disabled: false })
  })

  it('users disable retires the user’s mailed tokens, as the admin API does', async () => {
    const user = await createUser(t.context.app)
    await t.context.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email: user.email } })
    const token = await latestToken(t.context.app, user.email, RESET_SUBJECT)
    expect((await tessera('users', 'disable', user.username)).code).toBe(0)
    expect((await tessera('users', 'enable', user.username)).code).toBe(0)
    const confirm = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token, password: 'A-brand-new-passphrase-1' },
    })
    expect(expectError(confirm, 400, 'validation_failed').details).toEqual([
      { path: '/token', message: expect.any(String) },
    ])
  })

  it('sets, shows and clears a limit, and a running server applies it on its next requests', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    expect((await t.context.app.inject({ url: '/v1/ping', headers: bearer(token) })).statusCode).toBe(200)

    const set = await tessera('rate-limit', 'set', user.username, '--max', '0', '--window', '30')
    expect(set).toMatchObject({
      code: 0,
      stdout: `${user.username} <${user.email}>: 0 requests per 30 s (override)\n`,
    })
    await vi.waitFor(async () =>
      expectError(
        await t.context.app.inject({ url: '/v1/ping', headers: bearer(token) }),
        429,
        'rate_limited'
      )
    )
    expect((await tessera('rate-limit', 'set', user.username, '--max', 'unlimited')).stdout).toContain(
      'unlimited (override)'
    )
    expect((await tessera('rate-limit', 'show', user.username)).stdout).toContain('unlimited (override)')
    const cleared = await tessera('rate-limit', 'clear', user.username)
    expect(cleared.stdout).toContain('override removed; now 600 requests per 60 s (default)')
    const [event] = await t.context.db.database.sql`
      select data from security_events where user_id = ${user.id} and type = 'rate_limit.changed'
      order by created_at limit 1`
    expect(event?.data).toEqual({ by: 'cli', max: 0, windowSeconds: 30 })
  })

  it('revokes all tokens of a user and prunes old tokens', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const revoked = await tessera('tokens', 'revoke-all', user.username)
    expect(revoked.stdout).toContain('1 active token revoked.')
    expectError(await t.context.app.inject({ url: '/v1/ping', headers: bearer(token) }), 401, 'token_revoked')
    await t.context.db.database.sql`update auth_tokens set revoked_at = now() - interval '40 days'`
    const pruned = await tessera('tokens', 'prune')
    expect(pruned.stderr).toBe('')
    expect(pruned.code).toBe(0)
    expect(pruned.stdout).toBe(
      '1 deleted: tokens expired or revoked more than TOKEN_RETENTION_DAYS days ago.\n'
    )
    expect(await t.context.db.database.sql`select id from auth_tokens`).toEqual([])
  })

  it('prunes old security events and sent mail with their retention settings', async () => {
    await createUser(t.context.app) // a user.registered event and a verification mail
    const { sql } = t.context.db.database
    await sql`update security_events set created_at = now() - interval '400 days'`
    await sql`update mail_outbox set sent_at = now() - interval '40 days'`
    const events = await tessera('events', 'prune')
    expect(events).toMatchObject({
      code: 0,
      stdout: '1 deleted: security events older than EVENT_RETENTION_DAYS days.\n',
    })
    const mail = await tessera('mail', 'prune')
    expect(mail.code).toBe(0)
    expect(mail.stdout).toMatch(/^1 deleted: mails sent/)
    expect(await sql`select id from security_events union all select id from mail_outbox`).toEqual([])
    expect((await tessera('events', 'prune', 'extra')).code).toBe(2)
  })
})
