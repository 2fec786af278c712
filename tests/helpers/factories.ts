import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'

export interface TestUser {
  id: string
  email: string
  username: string
  password: string
}

let counter = 0

export async function createUser (
  app: FastifyInstance,
  overrides: Partial<Omit<TestUser, 'id'>> = {}
): Promise<TestUser> {
  counter += 1
  const suffix = `${counter}${randomBytes(3).toString('hex')}`
  const input = {
    email: overrides.email ?? `user${suffix}@example.com`,
    username: overrides.username ?? `user_${suffix}`,
    password: overrides.password ?? `Tessera-test-${suffix}!`,
  }
  const response = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: input })
  expect(response.statusCode, response.body).toBe(201)
  return { ...input, id: response.json().user.id }
}

export interface LoggedIn {
  token: string
  tokenId: string
}

export async function login (
  app: FastifyInstance,
  user: Pick<TestUser, 'username' | 'password'>
): Promise<LoggedIn> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { username: user.username, password: user.password },
  })
  expect(response.statusCode, response.body).toBe(200)
  const body = response.json()
  return { token: body.token, tokenId: body.tokenId }
}

/** API.md: a session token is `tsr_sess_` and 49 characters (the secret, then its checksum). */
export const SESSION_TOKEN = /^tsr_sess_[A-Za-z0-9_-]{49}$/

/** Logs in and checks what that means: 200 with a session token that /v1/ping then accepts. */
export async function expectLoginWorks (
  app: FastifyInstance,
  user: Pick<TestUser, 'username' | 'password'>
): Promise<LoggedIn> {
  const session = await login(app, user)
  expect(session.token).toMatch(SESSION_TOKEN)
  expect((await ping(app, session.token)).statusCode).toBe(200)
  return session
}

export async function createLoggedInUser (
  app: FastifyInstance,
  overrides: Partial<Omit<TestUser, 'id'>> = {}
) {
  const user = await createUser(app, overrides)
  return { user, ...(await login(app, user)) }
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** GET /v1/ping, the example protected route: whether `token` is accepted, and its budget headers. */
export const ping = (app: FastifyInstance, token: string, options: { remoteAddress?: string } = {}) =>
  app.inject({ url: '/v1/ping', headers: bearer(token), ...options })

/** Asserts API.md's error shape and returns the body. */
export function expectError (
  response: { statusCode: number; json: () => unknown; headers: Record<string, unknown> },
  statusCode: number,
  code: string
) {
  const body = response.json() as Record<string, unknown>
  expect(response.statusCode, JSON.stringify(body)).toBe(statusCode)
  expect(body).toMatchObject({ statusCode, code, error: expect.any(String), message: expect.any(String) })
  expect(
    Object.keys(body).every((key) => ['statusCode', 'error', 'code', 'message', 'details'].includes(key))
  ).toBe(true)
  expect(String(response.headers['content-type'])).toMatch(/^application\/json/)
  return body
}
