import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'
import { buildTestApp, truncateAll } from './app.js'
import { createTestDatabase, type TestDatabase } from './db.js'
import { createLoggedInUser } from './factories.js'
import { createPersonalToken } from './tokens.js'

/** The proxy's program, or undefined (its tests then skip, said once here). */
export function findProxy (name: string, paths: string[], install: string): string | undefined {
  const found = paths.find((path) => existsSync(path))
  if (!found) console.warn(`[tessera tests] ${name} is not installed: skipping the ${name} forward-auth test (${install})`)
  return found
}

/** The README shows the configuration the test runs (the committed `template`), word for word. */
export function itShowsTheConfiguration (name: string, template: URL) {
  it(`the README shows the ${name} configuration the test runs, word for word`, async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
    expect(readme).toContain((await readFile(template, 'utf8')).trimEnd())
  })
}

/** The API behind the proxy: answers 200 with the headers it received. */
async function startUpstream () {
  const received: IncomingHttpHeaders[] = []
  const server: Server = createServer((request, response) => {
    received.push(request.headers)
    response.setHeader('content-type', 'application/json')
    response.end(JSON.stringify({ upstream: true }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, received, close: () => new Promise((resolve) => server.close(resolve)) }
}

export interface RunningProxy {
  /** The proxy's own address, e.g. http://127.0.0.1:8000 */
  base: string
  stop(): Promise<void>
}

export interface ProxyUnderTest {
  /** Which proxy, for the suite's name. */
  name: string
  /**
   * Starts the proxy with the README's configuration in front of Tessera and the upstream, with
   * `/api/` accepting any valid token and `/api/admin/` needing `tokens:write`.
   */
  start(ports: { tessera: number; upstream: number }): Promise<RunningProxy>
  /** Whether the proxy's configuration also hands the x-ratelimit-* headers of an allowed request to the client. */
  ratelimitHeadersOnSuccess: boolean
}

/** A directory of its own (removed by `stop`) and a free loopback port, for one proxy under test. */
export async function proxyPlace (name: string) {
  return { dir: await mkdtemp(join(tmpdir(), `tessera-${name}-`)), port: await freePort() }
}

/**
 * Checks the proxy's configuration (`check`, which throws with the proxy's complaint), runs it
 * (`run`), and waits until it answers on `port`, for at most five seconds.
 */
export async function runProxy (options: {
  program: string
  check: string[]
  run: string[]
  dir: string
  port: number
  env?: NodeJS.ProcessEnv
}): Promise<RunningProxy> {
  const { program, dir, env } = options
  execFileSync(program, options.check, { stdio: 'pipe', env })
  const log: string[] = []
  const child = spawn(program, options.run, { env, stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr.on('data', (chunk: Buffer) => log.push(chunk.toString()))
  const base = `http://127.0.0.1:${options.port}`
  const stop = async () => {
    child.kill()
    await rm(dir, { recursive: true, force: true })
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await fetch(`${base}/api/`).then(() => true, () => false)) return { base, stop }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stop()
  throw new Error(`${program} did not start: ${log.join('')}`)
}

/**
 * API.md (forward authentication): through the proxy, the client sees Tessera's 401, 403 and 429
 * (status, body, WWW-Authenticate, retry-after), and the upstream receives the x-tessera-*
 * headers and never a client-forged one.
 */
export function describeForwardAuthProxy (proxy: ProxyUnderTest) {
  describe(`${proxy.name} in front of an API, with the README’s configuration`, () => {
    let db: TestDatabase
    let app: FastifyInstance
    let upstream: Awaited<ReturnType<typeof startUpstream>>
    let running: RunningProxy

    beforeAll(async () => {
      db = await createTestDatabase()
      await truncateAll(db.database)
      app = await buildTestApp(db.database, { env: { TRUST_PROXY: '1', RATE_LIMIT_MAX: '4' } })
      await app.listen({ host: '127.0.0.1', port: 0 })
      upstream = await startUpstream()
      running = await proxy.start({ tessera: (app.server.address() as AddressInfo).port, upstream: upstream.port })
    })

    afterAll(async () => {
      await running?.stop()
      await app?.close()
      await upstream?.close()
      await db?.drop()
    })

    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${running.base}${path}`, { headers })

    async function expectTesseraError (response: Response, status: number, code: string) {
      expect(response.status).toBe(status)
      expect(response.headers.get('content-type')).toMatch(/^application\/json/)
      const body = await response.json()
      expect(body).toEqual({ statusCode: status, error: expect.any(String), code, message: expect.any(String) })
      return body
    }

    it('lets a valid token through: the API gets the caller, never the client’s forged headers', async () => {
      const { user, token, tokenId } = await createLoggedInUser(app)
      const before = upstream.received.length
      const response = await get('/api/orders', {
        authorization: `Bearer ${token}`,
        'x-tessera-user-id': 'forged',
        'X-Tessera-Role': 'admin',
        'x-tessera-scope': 'admin',
      })
      const text = await response.text()
      expect(response.status, text).toBe(200)
      expect(JSON.parse(text)).toEqual({ upstream: true })
      if (proxy.ratelimitHeadersOnSuccess) expect(response.headers.get('x-ratelimit-limit')).toBe('4')
      const seen = upstream.received[before]
      expect(seen).toMatchObject({
        'x-tessera-user-id': user.id,
        'x-tessera-token-id': tokenId,
        'x-tessera-username': user.username,
        'x-tessera-role': 'user',
      })
      expect(seen?.['x-tessera-scope']).toBeUndefined()
      expect(seen?.authorization).toBeUndefined()
    })

    it('never passes a forged identity when there is no token: the client gets Tessera’s 401', async () => {
      const before = upstream.received.length
      const response = await get('/api/orders', { 'x-tessera-user-id': 'forged' })
      await expectTesseraError(response, 401, 'token_missing')
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tessera"')
      expect(upstream.received.length).toBe(before)
    })

    it('answers Tessera’s 401 token_invalid with its WWW-Authenticate', async () => {
      const response = await get('/api/orders', { authorization: `Bearer tsr_sess_${'E'.repeat(49)}` })
      await expectTesseraError(response, 401, 'token_invalid')
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="tessera", error="invalid_token"')
    })

    it('answers Tessera’s 403 insufficient_scope on a location that needs a scope', async () => {
      const { token } = await createLoggedInUser(app)
      const pat = await createPersonalToken(app, token, { scopes: ['profile:read'] })
      const response = await get('/api/admin/users', { authorization: `Bearer ${pat.token}` })
      await expectTesseraError(response, 403, 'insufficient_scope')
      expect(response.headers.get('www-authenticate')).toBe(
        'Bearer realm="tessera", error="insufficient_scope", scope="tokens:write"'
      )
      expect((await get('/api/admin/users', { authorization: `Bearer ${token}` })).status).toBe(200)
    })

    it('answers Tessera’s 429 with retry-after once the user’s budget is spent', async () => {
      const { token } = await createLoggedInUser(app)
      const auth = { authorization: `Bearer ${token}` }
      for (let i = 0; i < 4; i++) expect((await get('/api/orders', auth)).status).toBe(200)
      const response = await get('/api/orders', auth)
      await expectTesseraError(response, 429, 'rate_limited')
      expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(response.headers.get('x-ratelimit-remaining')).toBe('0')
    })

    it('passes on the budget a refused token spent', async () => {
      const response = await get('/api/orders', { authorization: `Bearer tsr_sess_${'F'.repeat(49)}` })
      await expectTesseraError(response, 401, 'token_invalid')
      expect(response.headers.get('x-ratelimit-limit')).toBe('60')
      expect(Number(response.headers.get('x-ratelimit-remaining'))).toBeLessThan(60)
    })
  })
}
