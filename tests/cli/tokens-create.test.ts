import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { promoteToAdmin } from '../helpers/admin.js'
import { TEST_ENV, useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser, expectError } from '../helpers/factories.js'

const BIN = fileURLToPath(new URL('../../bin/tessera.js', import.meta.url))
const SCOPES = 'recipes:read'
const t = useTestApp({ env: { SCOPES } })

function tessera (...args: string[]) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH, ...TEST_ENV, SCOPES, DATABASE_URL: t.context.db.url }, timeout: 30_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
    )
  })
}

describe('tessera tokens create', () => {
  it('prints the secret once, on stdout alone, and the token works with the scopes given', async () => {
    const user = await createUser(t.context.app)
    await promoteToAdmin(t.context.db.database, user.id)
    const result = await tessera('tokens', 'create', user.username, '--name', 'orders gateway', '--scopes', 'tokens:introspect', '--expires-in-days', '30')
    expect(result.code, result.stderr).toBe(0)
    const secret = result.stdout.trim()
    expect(secret).toMatch(/^tsr_pat_[A-Za-z0-9_-]{49}$/)
    expect(result.stderr).toContain('"orders gateway"')
    expect(result.stderr).toContain('scopes tokens:introspect')
    expect(result.stderr).not.toContain(secret)

    const { token } = await createLoggedInUser(t.context.app)
    const introspected = await t.context.app.inject({
      method: 'POST',
      url: '/v1/introspect',
      headers: bearer(secret),
      payload: { token },
    })
    expect(introspected.statusCode, introspected.body).toBe(200)
    expect(introspected.json().active).toBe(true)
    expectError(await t.context.app.inject({ url: '/v1/me', headers: bearer(secret) }), 403, 'insufficient_scope')
    const [row] = await t.context.db.database.sql`select name, scopes, expires_at - created_at as lifetime from auth_tokens where user_id = ${user.id} and kind = 'personal'`
    expect(row).toMatchObject({ name: 'orders gateway', scopes: ['tokens:introspect'] })
  })

  it('takes application scopes', async () => {
    const user = await createUser(t.context.app)
    const result = await tessera('tokens', 'create', user.email, '--name', 'reader', '--scopes', 'recipes:read,profile:read')
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toContain('scopes recipes:read profile:read')
  })

  it.each([
    [['--scopes', 'profile:read'], '--name'],
    [['--name', 'x'], '--scopes'],
    [['--name', 'x', '--scopes', 'recipes:write'], '--scopes'],
    [['--name', 'x', '--scopes', 'profile:read', '--expires-in-days', '366'], '--expires-in-days'],
    [['--name', 'x', '--scopes', 'profile:read', '--expires-in-days', 'soon'], '--expires-in-days'],
  ])('exits 2 on bad input %j, naming the option', async (options, flag) => {
    const user = await createUser(t.context.app)
    const result = await tessera('tokens', 'create', user.username, ...options)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`tokens create: ${flag}`)
    expect(result.stdout).toBe('')
  })

  it('exits 1 when the user’s role does not allow a scope, and for an unknown user', async () => {
    const user = await createUser(t.context.app)
    const refused = await tessera('tokens', 'create', user.username, '--name', 'x', '--scopes', 'admin')
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('does not allow the scope admin')
    expect(refused.stdout).toBe('')
    const unknown = await tessera('tokens', 'create', 'nobody_here', '--name', 'x', '--scopes', 'profile:read')
    expect(unknown.code).toBe(1)
  })

  it('refuses its options on other commands (exit 2)', async () => {
    const result = await tessera('users', 'promote', 'alice', '--scopes', 'admin')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('only apply to tokens create')
  })
})
