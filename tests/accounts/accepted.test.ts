import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser } from '../helpers/factories.js'

const t = useTestApp()

// one shape for every 202: clients of the token revocation read `status`, those of the mail
// routes `message`; both keep working
describe('202 Accepted', () => {
  it.each([
    ['POST /v1/tokens/revoke', '/v1/tokens/revoke', () => ({ token: 'tsr_pat_not-a-token' })],
    ['POST /v1/auth/password-reset', '/v1/auth/password-reset', () => ({ email: 'nobody@example.com' })],
    ['POST /v1/me/verify-email', '/v1/me/verify-email', undefined],
  ])('%s answers {status: "accepted", message}', async (_name, url, payload) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'POST',
      url,
      headers: bearer(token),
      ...(payload ? { payload: payload() } : {}),
    })
    expect(response.statusCode).toBe(202)
    expect(response.json()).toEqual({ status: 'accepted', message: expect.stringMatching(/\S/) })
  })
})
