import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'
import { buildTestApp, truncateAll } from '../helpers/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { createLoggedInUser } from '../helpers/factories.js'
import { createPersonalToken } from '../helpers/tokens.js'

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((path) => existsSync(path))
if (!NGINX) {
  console.warn('[tessera tests] nginx is not installed: skipping the nginx forward-auth test (apt-get install nginx-light)')
}
// the README's configuration, as it is committed: only its addresses are this test's
const TEMPLATE = new URL('../../examples/nginx/tessera.conf', import.meta.url)

/** The API behind nginx: answers 200 with the headers it received. */
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

it('the README shows the nginx configuration the test runs, word for word', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  expect(readme).toContain((await readFile(TEMPLATE, 'utf8')).trimEnd())
})

describe.runIf(NGINX)('nginx in front of an API, with the README’s configuration', () => {
  let db: TestDatabase
  let app: FastifyInstance
  let upstream: Awaited<ReturnType<typeof startUpstream>>
  let nginx: ChildProcess
  let dir: string
  let base: string

  beforeAll(async () => {
    db = await createTestDatabase()
    await truncateAll(db.database)
    app = await buildTestApp(db.database, { env: { TRUST_PROXY: '1', RATE_LIMIT_MAX: '4' } })
    await app.listen({ host: '127.0.0.1', port: 0 })
    upstream = await startUpstream()
    const nginxPort = await freePort()
    dir = await mkdtemp(join(tmpdir(), 'tessera-nginx-'))
    const server = (await readFile(TEMPLATE, 'utf8'))
      .replace('127.0.0.1:3000', `127.0.0.1:${(app.server.address() as AddressInfo).port}`)
      .replace('127.0.0.1:8080', `127.0.0.1:${upstream.port}`)
      .replace('127.0.0.1:8000', `127.0.0.1:${nginxPort}`)
      // the location a scope guards, as the README shows it
      .replace('location /api/ {\n        # the scope this location needs; "" accepts any valid token\n        set $tessera_scope "";',
        'location /api/ {\n        set $tessera_scope "";')
    const scoped = server.replace(/ {4}location \/api\/ \{[\s\S]*?\n {4}\}\n/, (block) =>
      `${block}\n${block.replace('location /api/ {', 'location /api/admin/ {').replace('set $tessera_scope "";', 'set $tessera_scope "tokens:write";')}`)
    const conf = join(dir, 'nginx.conf')
    await writeFile(conf, `daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n${scoped}\n}\n`)
    execFileSync(NGINX as string, ['-t', '-p', dir, '-c', conf], { stdio: 'pipe' })
    nginx = spawn(NGINX as string, ['-p', dir, '-c', conf], { stdio: 'ignore' })
    base = `http://127.0.0.1:${nginxPort}`
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await fetch(`${base}/api/`).then(() => true, () => false)) return
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    throw new Error(`nginx did not start: ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`)
  })

  afterAll(async () => {
    nginx?.kill()
    await app?.close()
    await upstream?.close()
    await db?.drop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers })

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
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ upstream: true })
    expect(response.headers.get('x-ratelimit-limit')).toBe('4')
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
