import { describe, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'

const t = useTestApp()

const LONG = 'x'.repeat(10_000)
const NUL = 'tsr_mail_\u0000'

/** Every new public body route, with bodies that must be refused with a 4xx in the error shape. */
const cases: [string, string, unknown, number, string][] = [
  ['/v1/auth/verify-email', 'missing token', {}, 400, 'validation_failed'],
  ['/v1/auth/verify-email', 'numeric token', { token: 12 }, 400, 'validation_failed'],
  ['/v1/auth/verify-email', '10,000-char token', { token: LONG }, 400, 'validation_failed'],
  ['/v1/auth/verify-email', 'NUL in token', { token: NUL }, 400, 'validation_failed'],
  ['/v1/auth/verify-email', 'array body', [], 400, 'validation_failed'],
  ['/v1/auth/password-reset', 'missing email', {}, 400, 'validation_failed'],
  ['/v1/auth/password-reset', 'not an email', { email: 'nope' }, 400, 'validation_failed'],
  ['/v1/auth/password-reset', 'numeric email', { email: 5 }, 400, 'validation_failed'],
  ['/v1/auth/password-reset', 'long email', { email: `${LONG}@example.com` }, 400, 'validation_failed'],
  ['/v1/auth/password-reset', 'NUL in email', { email: 'a\u0000@example.com' }, 400, 'validation_failed'],
  ['/v1/auth/password-reset/confirm', 'missing password', { token: 'tsr_mail_x' }, 400, 'validation_failed'],
  [
    '/v1/auth/password-reset/confirm',
    'short password',
    { token: 'tsr_mail_x', password: 'a' },
    400,
    'validation_failed',
  ],
  [
    '/v1/auth/password-reset/confirm',
    'long password',
    { token: 'tsr_mail_x', password: LONG },
    400,
    'validation_failed',
  ],
  [
    '/v1/auth/password-reset/confirm',
    'unknown token',
    { token: NUL, password: 'Fine-passphrase-1' },
    400,
    'validation_failed',
  ],
  [
    '/v1/auth/password-reset/confirm',
    'bad token',
    { token: 'tsr_mail_x', password: 'Fine-passphrase-1' },
    400,
    'validation_failed',
  ],
]

describe('bad input on the account routes', () => {
  it.each(cases)('POST %s with %s answers %i %s', async (url, _label, payload, status, code) => {
    const response = await t.context.app.inject({ method: 'POST', url, payload: payload as object })
    expectError(response, status, code)
  })

  it.each(['/v1/auth/verify-email', '/v1/auth/password-reset', '/v1/auth/password-reset/confirm'])(
    'POST %s with a non-JSON or broken body answers 415 / 400',
    async (url) => {
      const text = await t.context.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'text/plain' },
        payload: 'token',
      })
      expectError(text, 415, 'unsupported_media_type')
      const broken = await t.context.app.inject({
        method: 'POST',
        url,
        headers: { 'content-type': 'application/json' },
        payload: '{"token":',
      })
      expectError(broken, 400, 'invalid_json')
    }
  )

  it.each([
    [{ email: 12, currentPassword: 'x' }],
    [{ email: 'not-an-email', currentPassword: 'x' }],
    [{ email: 'a@example.com', currentPassword: LONG }],
    [{ email: 'a@example.com', currentPassword: '' }],
    [{ email: `${LONG}@example.com`, currentPassword: 'x' }],
  ])('PATCH /v1/me with %j answers 400 validation_failed', async (payload) => {
    const { token } = await createLoggedInUser(t.context.app)
    const response = await t.context.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(token),
      payload,
    })
    expectError(response, 400, 'validation_failed')
  })
})
