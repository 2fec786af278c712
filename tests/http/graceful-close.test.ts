import { Agent, request } from 'node:http'
import { type AddressInfo, connect, type Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FIRST_REQUEST_GRACE_MS } from '../../src/plugins/graceful-close.js'
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
  const accepted: Socket[] = []
  app.server.on('connection', (socket: Socket) => accepted.push(socket))
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port, accepted }
}

/** A raw connection; `text` resolves with everything the server sent once it has closed it. */
async function rawConnection (port: number) {
  const socket = connect(port, '127.0.0.1')
  await new Promise((resolve) => socket.once('connect', resolve))
  let received = ''
  socket.on('data', (chunk) => {
    received += chunk
  })
  const text = new Promise<string>((resolve, reject) => {
    socket.once('close', () => resolve(received))
    socket.once('error', reject)
  })
  return { socket, text }
}

function registerRequest (username: string) {
  const payload = JSON.stringify({ email: `${username}@example.com`, username, password: 'Graceful-close-pass-7!' })
  return (
    'POST /v1/auth/register HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`
  )
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

  it('gives a connection accepted before closing a grace to send its request, and answers it', async () => {
    const { app, port, accepted } = await listening()
    const fresh = await rawConnection(port)
    await expect.poll(() => accepted.length).toBe(1)
    const closing = app.close()
    await expect.poll(() => app.server.listening).toBe(false)
    fresh.socket.write(registerRequest('late_sender'))
    const text = await fresh.text
    // neither destroyed unanswered nor refused with fastify's 503 while closing
    expect(text).toMatch(/^HTTP\/1\.1 201 /)
    expect(text.toLowerCase()).toContain('connection: close')
    expect(text).toContain('"username":"late_sender"')
    await closing
  })

  it('answers a request partly received when closing began', async () => {
    const { app, port, accepted } = await listening()
    const partial = await rawConnection(port)
    const request = registerRequest('half_sent')
    partial.socket.write(request.slice(0, 40))
    await expect.poll(() => accepted[0]?.bytesRead).toBe(40)
    const closing = app.close()
    await expect.poll(() => app.server.listening).toBe(false)
    partial.socket.write(request.slice(40))
    const text = await partial.text
    expect(text).toMatch(/^HTTP\/1\.1 201 /)
    expect(text.toLowerCase()).toContain('connection: close')
    await closing
  })

  it('closes a connection that sends nothing once the grace has passed', async () => {
    const { app, port, accepted } = await listening()
    const silent = await rawConnection(port)
    await expect.poll(() => accepted.length).toBe(1)
    const closingAt = Date.now()
    await app.close()
    expect(await silent.text).toBe('')
    // the grace, not the request deadline (the socket's 5 s idle timeout)
    expect(Date.now() - closingAt).toBeGreaterThanOrEqual(FIRST_REQUEST_GRACE_MS - 100)
    expect(Date.now() - closingAt).toBeLessThan(FIRST_REQUEST_GRACE_MS + 1_500)
  })

  it('closes a kept-alive connection between requests at once', async () => {
    const { app, port } = await listening()
    const first = slowRegister(port, 'kept_between')
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
