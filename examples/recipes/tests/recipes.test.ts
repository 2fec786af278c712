import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { buildRecipesApp } from '../src/app.js'

// The PostgreSQL server: DATABASE_URL's, or the one Tessera's own test run provides (embedded)
const serverUrl = process.env.DATABASE_URL ?? (inject as (key: string) => string | undefined)('serverUrl')
const databaseName = `recipes_test_${randomBytes(6).toString('hex')}`
let app: FastifyInstance

async function onServer (statement: string) {
  if (!serverUrl) throw new Error('set DATABASE_URL to a PostgreSQL server')
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(statement)
  } finally {
    await admin.end()
  }
}

beforeAll(async () => {
  await onServer(`create database ${databaseName}`)
  const url = new URL(serverUrl as string)
  url.pathname = `/${databaseName}`
  app = await buildRecipesApp({
    databaseUrl: url.toString(),
    // cheap password hashing for tests; no background jobs
    tessera: { argon2MemoryKib: 1024, argon2TimeCost: 1, cleanupIntervalSeconds: 0, mailPollIntervalSeconds: 0 },
  })
  await app.ready()
})

afterAll(async () => {
  await app?.close()
  await onServer(`drop database if exists ${databaseName} with (force)`)
})

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

/** A new user, signed in through Tessera's own routes: their session token. */
async function signIn (name: string) {
  const username = `${name}_${randomBytes(3).toString('hex')}`
  const password = `Recipes-${randomBytes(6).toString('hex')}!`
  const registered = await app.inject({ method: 'POST', url: '/v1/auth/register', payload: { username, email: `${username}@example.com`, password } })
  expect(registered.statusCode, registered.body).toBe(201)
  const login = await app.inject({ method: 'POST', url: '/v1/auth/login', payload: { username, password } })
  expect(login.statusCode, login.body).toBe(200)
  return login.json().token as string
}

const soup = { title: 'Leek soup', ingredients: ['leeks', 'potatoes', 'stock'], steps: 'Sweat, simmer, blend.' }

describe('the recipes example, guarded by the tessera package', () => {
  it('lets an owner create, list, read, update and delete their recipe', async () => {
    const token = await signIn('owner')
    const created = await app.inject({ method: 'POST', url: '/recipes', headers: bearer(token), payload: soup })
    expect(created.statusCode, created.body).toBe(201)
    const { id } = created.json().recipe
    expect(created.json().recipe).toMatchObject(soup)
    expect((await app.inject({ url: '/recipes', headers: bearer(token) })).json().recipes).toMatchObject([{ id, title: 'Leek soup' }])
    expect((await app.inject({ url: `/recipes/${id}`, headers: bearer(token) })).json().recipe).toMatchObject(soup)
    const updated = await app.inject({ method: 'PUT', url: `/recipes/${id}`, headers: bearer(token), payload: { ...soup, title: 'Leek and potato soup' } })
    expect(updated.json().recipe.title).toBe('Leek and potato soup')
    expect((await app.inject({ method: 'DELETE', url: `/recipes/${id}`, headers: bearer(token) })).statusCode).toBe(204)
    expect((await app.inject({ url: `/recipes/${id}`, headers: bearer(token) })).statusCode).toBe(404)
  })

  it('answers another user 404 for a recipe that is not theirs, and lists them none', async () => {
    const owner = await signIn('owner')
    const other = await signIn('other')
    const { id } = (await app.inject({ method: 'POST', url: '/recipes', headers: bearer(owner), payload: soup })).json().recipe
    expect((await app.inject({ url: `/recipes/${id}`, headers: bearer(other) })).statusCode).toBe(404)
    expect((await app.inject({ method: 'PUT', url: `/recipes/${id}`, headers: bearer(other), payload: soup })).statusCode).toBe(404)
    expect((await app.inject({ method: 'DELETE', url: `/recipes/${id}`, headers: bearer(other) })).statusCode).toBe(404)
    expect((await app.inject({ url: '/recipes', headers: bearer(other) })).json()).toEqual({ recipes: [] })
    expect((await app.inject({ url: `/recipes/${id}`, headers: bearer(owner) })).statusCode).toBe(200)
  })

  it('answers a token without recipes:write 403 insufficient_scope, and lets it read', async () => {
    const session = await signIn('reader')
    const created = await app.inject({
      method: 'POST',
      url: '/v1/me/tokens',
      headers: bearer(session),
      payload: { name: 'meal planner', scopes: ['recipes:read'] },
    })
    expect(created.statusCode, created.body).toBe(201)
    const readOnly = created.json().token as string
    const refused = await app.inject({ method: 'POST', url: '/recipes', headers: bearer(readOnly), payload: soup })
    expect(refused.statusCode).toBe(403)
    expect(refused.json()).toMatchObject({ code: 'insufficient_scope' })
    expect(refused.headers['www-authenticate']).toContain('scope="recipes:write"')
    expect((await app.inject({ url: '/recipes', headers: bearer(readOnly) })).statusCode).toBe(200)
  })

  it('answers a request without a token 401 token_missing', async () => {
    for (const request of [{ url: '/recipes' }, { method: 'POST' as const, url: '/recipes', payload: soup }]) {
      const response = await app.inject(request)
      expect(response.statusCode).toBe(401)
      expect(response.json()).toMatchObject({ code: 'token_missing' })
      expect(response.headers['www-authenticate']).toBe('Bearer realm="tessera"')
    }
  })

  it('declares its scopes in GET /v1/scopes', async () => {
    const { scopes } = (await app.inject({ url: '/v1/scopes' })).json()
    expect(scopes).toEqual(expect.arrayContaining([
      expect.objectContaining({ name: 'recipes:read', description: 'Read your recipes' }),
      expect.objectContaining({ name: 'recipes:write', description: 'Change your recipes' }),
    ]))
  })
})
