import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'
import { FIRST_REQUEST_GRACE_MS } from '../../src/plugins/graceful-close.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { openRawConnection, type RawClosed, rawConnection, rawJsonPost, slowRequest } from '../helpers/raw-http.js'

/** close-with-grace's delay in src/server.ts: past it the process exits 1. */
const SHUTDOWN_DELAY_MS = 10_000

interface ServerProcess {
  port: number
  child: ChildProcess
  output: { stdout: string; stderr: string }
  exited: Promise<number | null>
}

let testDb: TestDatabase | undefined
let server: ServerProcess

// every test has a server process and a database of its own: none depends on another's state
beforeEach(async () => {
  testDb = await createTestDatabase()
  server = await startServer(testDb.url)
}, 60_000)

afterEach(async () => {
  if (server?.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL')
  await server?.exited
  await testDb?.drop()
  testDb = undefined
})

/** `npm start`'s server (src/server.ts) in a process of its own. */
async function startServer (databaseUrl: string): Promise<ServerProcess> {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_TIME_COST: '1',
      CLEANUP_INTERVAL_SECONDS: '0',
      RATE_LIMIT_ANON_MAX: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => {
    output.stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output.stderr += chunk
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline) {
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null)
    if (response?.status === 200) return { port, child, output, exited }
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${output.stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`server did not become healthy: ${output.stderr}`)
}

const api = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`http://127.0.0.1:${server.port}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })

/** Resolves once the server no longer listens (a connection is refused). */
async function listenerClosed (port: number) {
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const probe = connect(port, '127.0.0.1')
      probe.once('connect', () => {
        probe.destroy()
        resolve(false)
      })
      probe.once('error', () => resolve(true))
    })
    if (refused) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

interface RawAnswer {
  /** 0 when no complete response arrived. */
  status: number
  connection: string | undefined
  body: string
  error?: string
}

/**
 * A request on a fresh TCP connection of its own, written when the test says: `connected`
 * resolves once the connection is open, `firstByte` once the server has begun answering, and
 * `answer` once the server has closed it (with the response, if it was complete).
 */
function rawRequest (port: number, path: string, body: unknown) {
  const bytes = Buffer.from(rawJsonPost(path, body))
  const { socket, connected, firstByte, closed } = rawConnection(port)
  const half = Math.floor(bytes.length / 3)
  return {
    connected,
    firstByte,
    answer: closed.then(parseResponse),
    /** Writes the request, or its first third, or what is left of it. */
    write: (part: 'all' | 'start' | 'rest') =>
      socket.write(part === 'all' ? bytes : part === 'start' ? bytes.subarray(0, half) : bytes.subarray(half)),
  }
}

function parseResponse ({ text, error }: RawClosed): RawAnswer {
  const end = text.indexOf('\r\n\r\n')
  const [statusLine, ...headerLines] = (end < 0 ? '' : text.slice(0, end)).split('\r\n')
  const headers = new Map(
    headerLines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])
  )
  const body = end < 0 ? '' : text.slice(end + 4)
  const complete = end >= 0 && Number(headers.get('content-length')) === Buffer.byteLength(body)
  return {
    status: complete ? Number(statusLine?.split(' ')[1]) : 0,
    connection: headers.get('connection'),
    body,
    ...(error ? { error } : {}),
  }
}

const PASSWORD = 'Shutdown-test-pass-91!'
const USER = { email: 'shutdown@example.com', username: 'shutdown_user', password: PASSWORD }

describe('the server process', () => {
  it('logs one line per request with the caller ids, never the token', async () => {
    expect((await api('/v1/auth/register', { method: 'POST', body: USER })).status).toBe(201)
    const login = await api('/v1/auth/login', {
      method: 'POST',
      body: { username: USER.username, password: PASSWORD },
    })
    const { token, tokenId, user } = (await login.json()) as {
      token: string
      tokenId: string
      user: { id: string }
    }
    expect((await api('/v1/ping', { token })).status).toBe(200)
    expect((await api('/v1/ping', { token: 'tsr_sess_bogus' })).status).toBe(401)
    // a shell-quoting slip leaves the password unquoted: the JSON error must not log it
    const malformed = await fetch(`http://127.0.0.1:${server.port}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"username": "${USER.username}", "password": ${PASSWORD}}`,
    })
    expect(malformed.status).toBe(400)

    const { output } = server
    await expect.poll(() => output.stdout.includes('"status":400')).toBe(true)
    const lines = output.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
    const ping = lines.find((l) => l.msg === 'request' && l.path === '/v1/ping' && l.status === 200)
    expect(ping).toMatchObject({ method: 'GET', path: '/v1/ping', status: 200, userId: user.id, tokenId })
    expect(typeof ping.ms).toBe('number')
    const refused = lines.find((l) => l.msg === 'request' && l.path === '/v1/ping' && l.status === 401)
    expect(refused).toMatchObject({ method: 'GET', path: '/v1/ping', status: 401 })
    expect(refused.userId).toBeUndefined()
    expect(output.stdout).not.toContain(token)
    expect(output.stdout).not.toContain('tsr_sess_bogus')
    expect(output.stdout).not.toContain(PASSWORD)
  })

  it('on SIGTERM finishes the in-flight request, then exits 0', async () => {
    expect((await api('/v1/auth/register', { method: 'POST', body: USER })).status).toBe(201)
    const slow = slowRequest(server.port, '/v1/auth/login', { username: USER.username, password: PASSWORD })
    await slow.accepted
    server.child.kill('SIGTERM')
    // the rest of the body only once shutdown has begun: the request spans it
    const { output } = server
    await expect.poll(() => output.stdout.includes('shutting down')).toBe(true)
    slow.finish()
    const response = await slow.answer
    expect(response.status).toBe(200)
    expect(JSON.parse(response.body).token).toMatch(/^tsr_sess_/)
    // or the kept-alive connection would hold the server open past its grace delay
    expect(response.connection).toBe('close')
    expect(await server.exited).toBe(0)
    expect(output.stdout).not.toContain(PASSWORD)
    expect(output.stdout + output.stderr).not.toContain(JSON.parse(response.body).token)
    // no longer listening
    await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow()
  })

  it('on SIGTERM right after the first answer, answers all 50 requests on fresh connections, then exits 0 within 10 s', async () => {
    const { port } = server
    const requests = Array.from({ length: 50 }, (_, i) => ({
      // 30 written at once, 10 begun and finished only once the listener is closed, 10 opened
      // and written only then (their connections accepted, their requests not yet read)
      when: i % 5 < 3 ? 'at once' : i % 5 === 3 ? 'split' : 'after',
      request: rawRequest(port, '/v1/auth/register', {
        email: `fresh${i}@example.com`,
        username: `fresh_${i}`,
        password: PASSWORD,
      }),
    }))
    await Promise.all(requests.map(({ request }) => request.connected))
    for (const { when, request } of requests) {
      if (when === 'at once') request.write('all')
      if (when === 'split') request.write('start')
    }
    await Promise.race(requests.map(({ request }) => request.firstByte))
    server.child.kill('SIGTERM')
    const signalledAt = Date.now()

    await listenerClosed(port)
    for (const { when, request } of requests) {
      if (when === 'split') request.write('rest')
      if (when === 'after') request.write('all')
    }
    const answers = await Promise.all(requests.map(({ request }) => request.answer))
    // no 503 (fastify's return503OnClosing), no reset, no connection closed unanswered
    expect(answers.map((answer) => answer.error ?? answer.status)).toEqual(Array(50).fill(201))
    answers.forEach((answer, i) => expect(JSON.parse(answer.body).user.username).toBe(`fresh_${i}`))
    expect(await server.exited).toBe(0)
    expect(Date.now() - signalledAt).toBeLessThan(SHUTDOWN_DELAY_MS)
  })

  it('on SIGTERM closes a connection that never sends a request after a short grace, then exits 0', async () => {
    const silent = await openRawConnection(server.port)
    // answered on a connection opened after the silent one: the server has accepted both
    expect((await api('/health')).status).toBe(200)
    server.child.kill('SIGTERM')
    const signalledAt = Date.now()
    // closed by the server, unanswered and without a reset
    expect(await silent.closed).toEqual({ text: '' })
    expect(await server.exited).toBe(0)
    // the grace, not the 5 s request deadline (the socket's idle timeout), ended it
    const elapsed = Date.now() - signalledAt
    expect(elapsed).toBeGreaterThanOrEqual(FIRST_REQUEST_GRACE_MS - 100)
    expect(elapsed).toBeLessThan(FIRST_REQUEST_GRACE_MS + 2_000)
  })
})
