import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { createUser, expectError, ping } from '../helpers/factories.js'

// API.md configuration: SESSION_TTL_SECONDS from 1 to 31536000; a 2-second session is how
// people test their clients' expiry handling
let clock = new Date('2030-01-01T00:00:00Z')
const t = useTestApp({ env: { SESSION_TTL_SECONDS: '2' }, now: () => clock })

describe('SESSION_TTL_SECONDS=2', () => {
  it('issues a session that expires after 2 seconds', async () => {
    clock = new Date('2030-01-01T00:00:00Z')
    const user = await createUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: user.username, password: user.password },
    })
    expect(response.statusCode, response.body).toBe(200)
    const { token, expiresAt } = response.json()
    expect(expiresAt).toBe('2030-01-01T00:00:02.000Z')
    clock = new Date('2030-01-01T00:00:01Z')
    expect((await ping(t.context.app, token)).statusCode).toBe(200)
    clock = new Date('2030-01-01T00:00:03Z')
    expectError(await ping(t.context.app, token), 401, 'token_expired')
  })
})
