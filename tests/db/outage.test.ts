import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { REQUEST_DEADLINE_MS } from '../../src/app.js'
import { createDb, type Database } from '../../src/db/client.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { bearer, createLoggedInUser, expectError } from '../helpers/factories.js'
import { createTcpProxy, targetOf, type TcpProxy, throughProxy } from '../helpers/tcp-proxy.js'

let testDb: TestDatabase
let proxy: TcpProxy
let database: Database
let app: FastifyInstance

// every test has its own database, proxy and app: one left cut or stalled by a failing test
// does not fail the next
beforeEach(async () => {
  testDb = await createTestDatabase()
  // a partition in front of PostgreSQL, cut and restored by the tests
  proxy = createTcpProxy(targetOf(testDb.url, 5432))
  await proxy.start()
  database = createDb(throughProxy(testDb.url, proxy), { poolSize: 3, connectTimeoutSeconds: 2 })
  app = await buildTestApp(database)
})

afterEach(async () => {
  await app?.close()
  await database?.close().catch(() => {})
  await proxy?.cut()
  await testDb?.drop()
})

describe('database outage', () => {
  it('answers 503 while PostgreSQL is unreachable, and recovers without a restart', async () => {
    const { token } = await createLoggedInUser(app)
    expect((await app.inject({ url: '/health' })).json()).toEqual({ status: 'ok' })
    expect((await app.inject({ url: '/v1/me', headers: bearer(token) })).statusCode).toBe(200)

    await proxy.cut()
    const health = await app.inject({ url: '/health' })
    expect(health.statusCode).toBe(503)
    expect(health.json()).toEqual({ status: 'unavailable' })
    for (const url of ['/v1/me', '/v1/ping']) {
      expectError(await app.inject({ url, headers: bearer(token) }), 503, 'service_unavailable')
    }
    const login = await app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { username: 'someone', password: 'whatever-1' },
    })
    expectError(login, 503, 'service_unavailable')

    await proxy.start()
    // the pool reconnects by itself: the first requests after the return already succeed
    const back = await app.inject({ url: '/health' })
    expect(back.json()).toEqual({ status: 'ok' })
    const me = await app.inject({ url: '/v1/me', headers: bearer(token) })
    expect(me.statusCode).toBe(200)
  })
})

describe('database partition (packets vanish, nothing refused)', () => {
  it('answers 503 within the request deadline instead of hanging, then recovers', async () => {
    const { token } = await createLoggedInUser(app)
    // the deadline is the HTTP connection's idle timeout: only a real connection has one
    const base = await app.listen({ host: '127.0.0.1', port: 0 })
    // every pooled connection open and idle: a query now goes down one that will never answer
    await Promise.all([1, 2, 3].map(() => database.sql`select pg_sleep(0.05)`))
    proxy.stall()
    const health = await app.inject({ url: '/health' })
    expect(health.statusCode).toBe(503)

    const startedAt = Date.now()
    const response = await fetch(`${base}/v1/me`, { headers: bearer(token) })
    const elapsedMs = Date.now() - startedAt
    expect(response.status).toBe(503)
    expect(response.headers.get('content-type')).toMatch(/^application\/json/)
    expect(response.headers.get('connection')).toBe('close')
    expect(await response.json()).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      code: 'service_unavailable',
      message: expect.any(String),
    })
    expect(elapsedMs).toBeGreaterThanOrEqual(REQUEST_DEADLINE_MS - 100)
    expect(elapsedMs).toBeLessThan(REQUEST_DEADLINE_MS + 3_000)

    // the partition ends by the stalled connections dying (a query in flight on one may still
    // answer 503 while the pool notices), then the pool reconnects by itself
    await proxy.cut()
    await proxy.start()
    await expect
      .poll(async () => (await fetch(`${base}/v1/me`, { headers: bearer(token) })).status)
      .toBe(200)
  }, 20_000)
})
