import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError, login, ping } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

// many logins from one address and for one account: neither budget is what these tests are about
const t = useTestApp({ env: { RATE_LIMIT_ANON_MAX: '100000', LOGIN_MAX_FAILURES: '100000' } })

describe('concurrency', () => {
  it('revoking a token while it is in use: every answer is 200 or 401 token_revoked, then only 401', async () => {
    const { token } = await createLoggedInUser(t.context.app)
    const victim = await createPersonalToken(t.context.app, token, { scopes: ['tokens:read'] })
    const uses = Array.from({ length: 30 }, () => ping(t.context.app, victim.token))
    const [revoke, leakRevoke, ...answers] = await Promise.all([
      t.context.app.inject({ method: 'DELETE', url: `/v1/me/tokens/${victim.id}`, headers: bearer(token) }),
      t.context.app.inject({ method: 'POST', url: '/v1/tokens/revoke', payload: { token: victim.token } }),
      ...uses,
    ])
    expect(revoke?.statusCode).toBe(204)
    expect(leakRevoke?.statusCode).toBe(202)
    for (const answer of answers) {
      if (answer.statusCode !== 200) expectError(answer, 401, 'token_revoked')
    }
    expectError(await ping(t.context.app, victim.token), 401, 'token_revoked')
    // exactly one of the two revocations did it: one event
    const events = await t.context.db.database.sql`select * from security_events where type = 'token.revoked'`
    expect(events).toHaveLength(1)
  })

  it('logout-all racing logins: every token created before logout-all committed is revoked', async () => {
    const { sql } = t.context.db.database
    for (let round = 0; round < 20; round++) {
      const { user, token } = await createLoggedInUser(t.context.app)
      const existing = await login(t.context.app, user)
      const loginRequest = () =>
        t.context.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { username: user.username, password: user.password },
        })
      const responses = await Promise.all([
        loginRequest(),
        t.context.app.inject({ method: 'POST', url: '/v1/auth/logout-all', headers: bearer(token) }),
        loginRequest(),
        loginRequest(),
      ])
      expect(responses.map((r) => r.statusCode)).toEqual([200, 204, 200, 200])
      expectError(await ping(t.context.app, token), 401, 'token_revoked')
      expectError(await ping(t.context.app, existing.token), 401, 'token_revoked')
      // Transaction ids are assigned when each transaction takes the user's row lock (its first
      // write), and the lock is held to commit: so xid order is commit order. A token may remain
      // active only if its login took the lock after logout-all did.
      const [logoutAll] = await sql`
        select xmin::text::bigint as xid from security_events where user_id = ${user.id} and type = 'logout'`
      const active = await sql`
        select xmin::text::bigint as xid from auth_tokens where user_id = ${user.id} and not revoked`
      for (const token of active) expect(BigInt(token.xid)).toBeGreaterThan(BigInt(logoutAll?.xid))
    }
  })

  it('two password changes at once: no 500, exactly one wins, and its password is the one that works', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const other = await login(t.context.app, user)
    const candidates = ['first-new-Passphrase-1', 'second-new-Passphrase-2']
    const responses = await Promise.all(
      [token, other.token].map((presenting, i) =>
        t.context.app.inject({
          method: 'PUT',
          url: '/v1/me/password',
          headers: bearer(presenting),
          payload: { currentPassword: user.password, newPassword: candidates[i] },
        })
      )
    )
    const statuses = responses.map((r) => r.statusCode)
    expect([...statuses].sort()).toEqual([204, 403])
    const winner = statuses.indexOf(204)
    const loser = 1 - winner
    expectError(responses[loser] as (typeof responses)[number], 403, 'invalid_credentials')
    const tryLogin = (password: string) =>
      t.context.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { username: user.username, password },
      })
    expect((await tryLogin(candidates[winner] as string)).statusCode).toBe(200)
    expectError(await tryLogin(candidates[loser] as string), 401, 'invalid_credentials')
    // the winner's token survives; the loser's was revoked by the winner
    expect((await ping(t.context.app, [token, other.token][winner] as string)).statusCode).toBe(200)
    expectError(await ping(t.context.app, [token, other.token][loser] as string), 401, 'token_revoked')
  })

  it('logins racing a password change: no token from a login with the old password outlives the change', async () => {
    const LOGINS = 24
    for (let round = 0; round < 5; round++) {
      const { user, token } = await createLoggedInUser(t.context.app)
      const loginRequest = () =>
        t.context.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { username: user.username, password: user.password },
        })
      const logins = Array.from({ length: LOGINS }, loginRequest)
      const change = await t.context.app.inject({
        method: 'PUT',
        url: '/v1/me/password',
        headers: bearer(token),
        payload: { currentPassword: user.password, newPassword: `a-brand-new-Passphrase-${round}` },
      })
      expect(change.statusCode, change.body).toBe(204)
      // every login used the old password: whether it answered before or after the change
      // committed, its token must be dead now (revoked by the change, or never issued)
      for (const response of await Promise.all(logins)) {
        if (response.statusCode !== 200) {
          expectError(response, 401, 'invalid_credentials')
          continue
        }
        expectError(await ping(t.context.app, response.json().token), 401, 'token_revoked')
      }
      expect((await ping(t.context.app, token)).statusCode).toBe(200)
    }
  })
})
