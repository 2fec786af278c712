import type { FastifyInstance } from 'fastify'
import { expect } from 'vitest'
import { bearer } from './factories.js'

export interface PersonalToken {
  token: string
  id: string
}

/** Creates a personal token through the API (POST /v1/me/tokens) with the given scopes. */
export async function createPersonalToken (
  app: FastifyInstance,
  authToken: string,
  body: { name?: string; scopes: string[]; expiresInDays?: number; rateLimit?: { max: number; windowSeconds: number } }
): Promise<PersonalToken> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/me/tokens',
    headers: bearer(authToken),
    payload: { name: 'test token', ...body },
  })
  expect(response.statusCode, response.body).toBe(201)
  const created = response.json()
  return { token: created.token, id: created.tokenInfo.id }
}

export async function listTokens (app: FastifyInstance, authToken: string) {
  const response = await app.inject({ url: '/v1/me/tokens', headers: bearer(authToken) })
  expect(response.statusCode, response.body).toBe(200)
  return response.json().tokens as Array<Record<string, unknown> & { id: string }>
}
