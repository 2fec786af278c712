import type { AddressInfo, Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FIRST_REQUEST_GRACE_MS } from '../../src/plugins/graceful-close.js'
import { buildTestApp } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { openRawConnection, rawJsonPost, slowRequest } from '../helpers/raw-http.js'

let testDb: TestDatabase

beforeAll(async () => {
  testDb = await createTestDatabase()
})

afterAll(async () => {
  await testDb?.drop()
})

// each test closes its app itself (closing is what it tests); a failed one is closed here
const opened: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).filter((app) => app.server.listening).map((app) => app.close()))
})

async function listening () {
  const app = await buildTestApp(testDb.database)
  opened.push(app)
  const accepted: Socket[] = []
  app.server.on('connection', (socket: Socket) => accepted.push(socket))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port, accepted }
}

const PASSWORD = 'Graceful-close-pass-7!'
const registerBody = (username: string) => ({ email: `${username}@example.com`, username, password: PASSWORD })

describe('closing the app', () => {
  it('answers a request in flight with Connection: close, then closes with no connection left open', async () => {
    const { app, port } = await listening()
    const slow = slowRequest(port, '/v1/auth/register', registerBody('in_flight'))
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
      const slow = slowRequest(started.port, '/v1/auth/register', registerBody('kept_alive'))
      await slow.accepted
      slow.finish()
      const answer = await slow.answer
      expect(answer.status).toBe(201)
      expect(answer.connection).toBe('keep-alive')
    } finally {
      await app?.close()
    }
  })

  it('gives a connection accepted before closing a grace to send its request, and answers it', async () => {
    const { app, port, accepted } = await listening()
    const fresh = await openRawConnection(port)
    await expect.poll(() => accepted.length).toBe(1)
    const closing = app.close()
    await expect.poll(() => app.server.listening).toBe(false)
    fresh.socket.write(rawJsonPost('/v1/auth/register', registerBody('late_sender')))
    const { text, error } = await fresh.closed
    expect(error).toBeUndefined()
    // neither destroyed unanswered nor refused with fastify's 503 while closing
    expect(text).toMatch(/^HTTP\/1\.1 201 /)
    expect(text.toLowerCase()).toContain('connection: close')
    expect(text).toContain('"username":"late_sender"')
    await closing
  })

  it('answers a request partly received when closing began', async () => {
    const { app, port, accepted } = await listening()
    const partial = await openRawConnection(port)
    const request = rawJsonPost('/v1/auth/register', registerBody('half_sent'))
    partial.socket.write(request.slice(0, 40))
    await expect.poll(() => accepted[0]?.bytesRead).toBe(40)
    const closing = app.close()
    await expect.poll(() => app.server.listening).toBe(false)
    partial.socket.write(request.slice(40))
    const { text, error } = await partial.closed
    expect(error).toBeUndefined()
    expect(text).toMatch(/^HTTP\/1\.1 201 /)
    expect(text.toLowerCase()).toContain('connection: close')
    await closing
  })

  it('closes a connection that sends nothing once the grace has passed', async () => {
    const { app, port, accepted } = await listening()
    const silent = await openRawConnection(port)
    await expect.poll(() => accepted.length).toBe(1)
    const closingAt = Date.now()
    await app.close()
    expect(await silent.closed).toEqual({ text: '' })
    // the grace, not the request deadline (the socket's 5 s idle timeout)
    expect(Date.now() - closingAt).toBeGreaterThanOrEqual(FIRST_REQUEST_GRACE_MS - 100)
    expect(Date.now() - closingAt).toBeLessThan(FIRST_REQUEST_GRACE_MS + 1_500)
  })

  it('closes a kept-alive connection between requests at once', async () => {
    const { app, port } = await listening()
    const first = slowRequest(port, '/v1/auth/register', registerBody('kept_between'))
    await first.accepted
    first.finish()
    const answer = await first.answer
    expect(answer.connection).toBe('keep-alive')
    const closingAt = Date.now()
    await app.close()
    await answer.closed
    // not given the grace of a connection that has sent nothing yet
    expect(Date.now() - closingAt).toBeLessThan(FIRST_REQUEST_GRACE_MS / 2)
  })
})
