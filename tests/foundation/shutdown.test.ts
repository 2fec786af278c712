import { type ChildProcess, spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

let testDb: TestDatabase
let child: ChildProcess
let port: number
let stdout = ''
let stderr = ''
let exited: Promise<number | null>

beforeAll(async () => {
  testDb = await createTestDatabase()
  port = await freePort()
  child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: {
      ...process.env,
      DATABASE_URL: testDb.url,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      ARGON2_MEMORY_KIB: '1024',
      ARGON2_TIME_COST: '1',
      CLEANUP_INTERVAL_SECONDS: '0',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  child.stdout?.on('data', (chunk) => {
    stdout += chunk
  })
  child.stderr?.on('data', (chunk) => {
    stderr += chunk
  })
  exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)))
  await waitForHealth(20_000)
}, 30_000)

async function waitForHealth (timeoutMs: number) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null)
    if (response?.status === 200) return
    if (child.exitCode !== null) throw new Error(`server exited ${child.exitCode}: ${stderr}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`server did not become healthy: ${stderr}`)
}

afterAll(async () => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await testDb?.drop()
})

const api = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  fetch(`http://127.0.0.1:${port}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  })

/**
 * Sends the headers now (with `expect: 100-continue`, so `accepted` resolves once the server has
 * taken the request in) and the body when `finish()` is called.
 */
function startSlowRequest (path: string, body: unknown) {
  const payload = Buffer.from(JSON.stringify(body))
  const req = request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': payload.length, expect: '100-continue' },
    // a client that keeps connections open as long as the server allows
    agent: new Agent({ keepAlive: true, keepAliveMsecs: 60_000 }),
  })
  const response = new Promise<{ status: number; body: string; connection: string | undefined }>(
    (resolve, reject) => {
      req.on('response', (res) => {
        let text = ''
        res.on('data', (chunk) => {
          text += chunk
        })
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection })
        )
      })
      req.on('error', reject)
    }
  )
  const accepted = new Promise<void>((resolve) => req.on('continue', () => resolve()))
  req.flushHeaders()
  return { accepted, response, finish: () => req.end(payload) }
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
    const malformed = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"username": "${USER.username}", "password": ${PASSWORD}}`,
    })
    expect(malformed.status).toBe(400)

    await expect.poll(() => stdout.includes('"status":400')).toBe(true)
    const lines = stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
    const ping = lines.find((l) => l.msg === 'request' && l.path === '/v1/ping' && l.status === 200)
    expect(ping).toMatchObject({ method: 'GET', path: '/v1/ping', status: 200, userId: user.id, tokenId })
    expect(typeof ping.ms).toBe('number')
    const refused = lines.find((l) => l.msg === 'request' && l.path === '/v1/ping' && l.status === 401)
    expect(refused).toBeDefined()
    expect(refused.userId).toBeUndefined()
    expect(stdout).not.toContain(token)
    expect(stdout).not.toContain('tsr_sess_bogus')
    expect(stdout).not.toContain(PASSWORD)
  })

  it('on SIGTERM finishes the in-flight request, then exits 0', async () => {
    const slow = startSlowRequest('/v1/auth/login', { username: USER.username, password: PASSWORD })
    await slow.accepted
    child.kill('SIGTERM')
    // the rest of the body only once shutdown has begun: the request spans it
    await expect.poll(() => stdout.includes('shutting down')).toBe(true)
    slow.finish()
    const response = await slow.response
    expect(response.status).toBe(200)
    expect(JSON.parse(response.body).token).toMatch(/^tsr_sess_/)
    // or the kept-alive connection would hold the server open past its grace delay
    expect(response.connection).toBe('close')
    expect(await exited).toBe(0)
    expect(stdout).not.toContain(PASSWORD)
    expect(stdout + stderr).not.toContain(JSON.parse(response.body).token)
    // no longer listening
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow()
  })
})
