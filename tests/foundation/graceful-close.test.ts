import { Agent, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

let testDb: TestDatabase

beforeAll(async () => {
  testDb = await createTestDatabase()
})

afterAll(async () => {
  await testDb?.drop()
})

async function listening () {
  const app = await buildTestApp(testDb.database)
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port }
}

interface Answer {
  status: number
  connection: string | undefined
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>
}

/**
 * A request on a keep-alive connection whose headers go now (with `expect: 100-continue`, so
 * `accepted` resolves once the server has routed it) and whose body goes on `finish()`.
 */
function slowRegister (port: number, username: string) {
  const payload = Buffer.from(
    JSON.stringify({ email: `${username}@example.com`, username, password: 'Graceful-close-pass-7!' })
  )
  const req = request({
    host: '127.0.0.1',
    port,
    path: '/v1/auth/register',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': payload.length, expect: '100-continue' },
    // a client that keeps connections open as long as the server allows
    agent: new Agent({ keepAlive: true, keepAliveMsecs: 60_000 }),
  })
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res) => {
      const socket = res.socket
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, closed }))
    })
    req.on('error', reject)
  })
  const accepted = new Promise<void>((resolve) => req.on('continue', () => resolve()))
  req.flushHeaders()
  return { accepted, answer, finish: () => req.end(payload) }
}

describe('closing the app', () => {
  it('answers a request in flight with Connection: close, then closes with no connection left open', async () => {
    const { app, port } = await listening()
    const slow = slowRegister(port, 'in_flight')
    await slow.accepted
    const closing = app.close()
    slow.finish()
    const answer = await slow.answer
    expect(answer.status).toBe(201)
    // without it the client keeps the connection, and app.close() waits for it (72 s)
    expect(answer.connection).toBe('close')
    await answer.closed
    await closing
    expect(app.server.listening).toBe(false)
  })

  it('leaves connections kept alive while the app is not closing', async () => {
    let app: FastifyInstance | undefined
    try {
      const started = await listening()
      app = started.app
      const slow = slowRegister(started.port, 'kept_alive')
      await slow.accepted
      slow.finish()
      const answer = await slow.answer
      expect(answer.status).toBe(201)
      expect(answer.connection).toBe('keep-alive')
    } finally {
      await app?.close()
    }
  })
})
