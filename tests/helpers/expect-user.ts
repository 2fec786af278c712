import { expect } from 'vitest'

const USER_KEYS = ['createdAt', 'email', 'emailVerified', 'id', 'role', 'username']

/** Asserts API.md's User object exactly: these keys and no other (never a password or hash). */
export function expectUser (user: unknown, expected: Partial<Record<string, unknown>> = {}) {
  expect(Object.keys(user as object).sort()).toEqual(USER_KEYS)
  expect(user).toMatchObject({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    role: expect.stringMatching(/^(user|admin)$/),
    emailVerified: expect.any(Boolean),
    createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    ...expected,
  })
}

/** No response may ever carry a password hash, under any spelling. */
export function expectNoSecrets (body: string, ...secrets: string[]) {
  expect(body).not.toMatch(/password_?hash|\$argon2/i)
  for (const secret of secrets) expect(body).not.toContain(secret)
}
