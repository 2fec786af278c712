import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import pino from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildApp } from '../../src/app.js'
import { testConfig } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { openRawConnection, type RawConnection } from '../helpers/raw-http.js'

// a short deadline so that a test of it takes well under a second
const DEADLINE_MS = 400
// how long a test waits for an answer before it fails instead of hanging
const GIVE_UP_MS = 3_000

let testDb: TestDatabase
let app: FastifyInstance | undefined
let logLines: Array<{ level: number; msg: string }>

beforeAll(async () => {
  testDb = await createTestDatabase()
})

afterEach(async () => {
  await app?.close()
  app = undefined
})

afterAll(async () => {
  await testDb?.drop()
})

async function listening () {
  logLines = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line))
      done()
    },
  })
  app = await buildApp({
    config: testConfig(),
    database: testDb.database,
    ownsDatabase: false,
    logger: pino({ level: 'info' }, stream),
    requestDeadlineMs: DEADLINE_MS,
  })
  await app.listen({ host: '127.0.0.1', port: 0 })
  return (app.server.address() as AddressInfo).port
}

const HEADERS = [
  'POST /v1/auth/login HTTP/1.1',
  'host: 127.0.0.1',
  'content-type: application/json',
  'content-length: 1000',
  '',
  '',
].join('\r\n')

interface Outcome {
  received: string
  elapsedMs: number
}

/** Everything the server wrote before it closed the connection; rejects past GIVE_UP_MS. */
function untilClosed ({ socket, closed }: RawConnection, startedAt: number) {
  return new Promise<Outcome>((resolve, reject) => {
    const giveUp = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the connection was still open after ${GIVE_UP_MS} ms`))
    }, GIVE_UP_MS)
    closed.then(({ text }) => {
      clearTimeout(giveUp)
      resolve({ received: text, elapsedMs: Date.now() - startedAt })
    })
  })
}

function expectTimeoutAnswer ({ received }: Outcome) {
  const [head = '', body = ''] = received.split('\r\n\r\n')
  expect(head).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/)
  expect(head.toLowerCase()).toContain('content-type: application/json')
  expect(head.toLowerCase()).toContain('cache-control: no-store')
  expect(JSON.parse(body)).toEqual({
    statusCode: 408,
    error: 'Request Timeout',
    code: 'request_timeout',
    message: expect.stringContaining('did not arrive'),
  })
}

describe('the request deadline', () => {
  it('answers 408 and closes a connection whose body trickles in a byte at a time', async () => {
    const port = await listening()
    const connection = await openRawConnection(port)
    const { socket } = connection
    const startedAt = Date.now()
    socket.write(HEADERS)
    // a byte every quarter of the deadline: the connection is never idle for a whole deadline
    const trickle = setInterval(() => socket.writable && socket.write('{'), DEADLINE_MS / 4)
    const outcome = await untilClosed(connection, startedAt).finally(() => clearInterval(trickle))
    expectTimeoutAnswer(outcome)
    // the deadline and one check interval (a fifth of it), with room for a busy machine
    expect(outcome.elapsedMs).toBeLessThan(DEADLINE_MS * 2.5)
  })

  it('answers 408 to a client that goes silent in the middle of its body', async () => {
    const port = await listening()
    const connection = await openRawConnection(port)
    const { socket } = connection
    const startedAt = Date.now()
    socket.write(`${HEADERS}{"username":`)
    expectTimeoutAnswer(await untilClosed(connection, startedAt))
  })
})

describe('HTTP that does not parse', () => {
  it('is answered 400 in the error shape, not fastify\'s', async () => {
    const port = await listening()
    const connection = await openRawConnection(port)
    const { socket } = connection
    const closed = untilClosed(connection, Date.now())
    socket.write('NOT HTTP AT ALL\r\n\r\n')
    const [head = '', body = ''] = (await closed).received.split('\r\n\r\n')
    expect(head).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(JSON.parse(body)).toMatchObject({ statusCode: 400, error: 'Bad Request', code: 'validation_failed' })
  })
})

describe('a client that hangs up in the middle of its body', () => {
  it('is logged as a closed connection, not as a database outage', async () => {
    const port = await listening()
    const connection = await openRawConnection(port)
    const { socket } = connection
    // with expect: 100-continue, Node answers 100 once the request has reached its route
    const continued = new Promise((resolve) => socket.once('data', resolve))
    socket.write(HEADERS.replace('\r\n\r\n', '\r\nexpect: 100-continue\r\n\r\n'))
    expect(String(await continued)).toMatch(/^HTTP\/1\.1 100 Continue/)
    socket.write('{"username":"someone",')
    socket.destroy()
    const concluded = (line: { msg: string }) =>
      ['client closed the connection before its request arrived', 'service_unavailable', 'request refused'].includes(line.msg)
    await vi.waitFor(() => expect(logLines.some(concluded)).toBe(true), { timeout: GIVE_UP_MS })
    expect(logLines.filter((line) => line.level >= 50)).toEqual([])
    expect(logLines.find(concluded)).toMatchObject({ level: 30, msg: 'client closed the connection before its request arrived' })
  })
})
