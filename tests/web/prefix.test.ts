import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { type Browser, chromium } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import tessera from '../../src/plugin.js'
import { CHROMIUM, CHROMIUM_ARGS, eventually, HAS_CHROMIUM, signInOnPage } from '../helpers/browser.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'

// The web page served by a host app that registered the tessera package under a prefix: its files,
// links and API calls all stay under the prefix. (Without chromium, page.test.ts says it skips.)

describe.runIf(HAS_CHROMIUM)('the web page under the package\'s prefix, in a real browser', () => {
  let db: TestDatabase
  let app: FastifyInstance
  let browser: Browser
  let base: string

  beforeAll(async () => {
    db = await createTestDatabase()
    app = Fastify()
    await app.register(tessera, {
      databaseUrl: db.url,
      prefix: '/auth',
      argon2MemoryKib: 1024,
      argon2TimeCost: 1,
      cleanupIntervalSeconds: 0,
      mailPollIntervalSeconds: 0,
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
  })
  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await db?.drop()
  })

  it('signs in and lists the session, with every request under /auth', async () => {
    const user = { username: 'lin', email: 'lin@example.com', password: 'Prefix-page-2026!' }
    expect((await app.inject({ method: 'POST', url: '/auth/v1/auth/register', payload: user })).statusCode).toBe(201)
    const context = await browser.newContext()
    context.setDefaultTimeout(10_000)
    try {
      const page = await context.newPage()
      const requests: string[] = []
      const problems: string[] = []
      page.on('request', (request) => requests.push(request.url()))
      page.on('pageerror', (error) => problems.push(error.message))
      await page.goto(`${base}/auth/account`)
      await signInOnPage(page, user.username, user.password)
      await eventually(() => page.locator('li.token.current').count()).toBe(1)
      expect(requests.filter((url) => !url.startsWith(`${base}/auth/`))).toEqual([])
      expect(requests.some((url) => url.startsWith(`${base}/auth/v1/me/tokens`))).toBe(true)
      expect(problems).toEqual([])
    } finally {
      await context.close()
    }
  })
})
