import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest'
import { buildTestApp, truncateAll } from './app.js'
import { createTestDatabase, type TestDatabase } from './db.js'

/** Debian's chromium (Playwright's own browser download is not reachable here). */
export const CHROMIUM = '/usr/bin/chromium'
export const HAS_CHROMIUM = existsSync(CHROMIUM)

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

/**
 * expect.poll with room for a loaded machine (the full suite runs beside these on two cores):
 * vitest's default of one second is a page load or two.
 */
export const eventually = <T>(read: () => T | Promise<T>) => expect.poll(read, { timeout: 10_000, interval: 50 })

/** The fixed viewport of the README's screenshots. */
export const SCREENSHOT_VIEWPORT = { width: 900, height: 820 }
export const SCREENSHOTS_DIR = new URL('../../docs/screenshots/', import.meta.url)

export interface OpenPage {
  page: Page
  context: BrowserContext
  /** Every URL the page requested, in order. */
  requests: string[]
  /** Uncaught errors and console errors (a CSP violation is one). */
  problems: string[]
}

/**
 * One listening app (127.0.0.1, a port of the system's choosing) and one browser for the file;
 * tables emptied before each test, and each test's pages in a browser context of their own (its
 * own sessionStorage), closed after it.
 */
export function useBrowserApp (env: Record<string, string> = {}) {
  const state = {} as { db: TestDatabase; app: FastifyInstance; browser: Browser; base: string }
  const contexts: BrowserContext[] = []
  // the app's clock runs with the real one, `aheadMs` ahead: a test moves it past an expiry
  let aheadMs = 0
  const clock = {
    now: () => new Date(Date.now() + aheadMs),
    advanceSeconds: (seconds: number) => {
      aheadMs += seconds * 1000
    },
  }

  beforeAll(async () => {
    state.db = await createTestDatabase()
    // the pages' anonymous requests (sign-in, register) all come from 127.0.0.1
    state.app = await buildTestApp(state.db.database, { env: { RATE_LIMIT_ANON_MAX: '100000', ...env }, now: clock.now })
    await state.app.listen({ host: '127.0.0.1', port: 0 })
    state.base = `http://127.0.0.1:${(state.app.server.address() as AddressInfo).port}`
    // a fresh temporary profile (user-data-dir) per launch, removed on close
    state.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
    await mkdir(SCREENSHOTS_DIR, { recursive: true })
  })
  afterAll(async () => {
    await state.browser?.close()
    await state.app?.close()
    await state.db?.drop()
  })
  beforeEach(async () => {
    aheadMs = 0
    await truncateAll(state.db.database)
  })
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()))
  })

  async function openPage (path = '/account', viewport = SCREENSHOT_VIEWPORT): Promise<OpenPage> {
    const context = await state.browser.newContext({ viewport })
    // a step that cannot happen fails in 10 s with what it waited for, before vitest's 30 s
    context.setDefaultTimeout(10_000)
    contexts.push(context)
    const page = await context.newPage()
    const requests: string[] = []
    const problems: string[] = []
    page.on('request', (request) => requests.push(request.url()))
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
    page.on('console', (message) => {
      // a refused request is the page's business (it shows the server's message); anything else is a fault
      if (message.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) {
        problems.push(`console: ${message.text()}`)
      }
    })
    await page.goto(`${state.base}${path}`)
    return { page, context, requests, problems }
  }

  /** Nothing the page asked for left Tessera's origin, and nothing went wrong in it. */
  function expectCleanRun ({ requests, problems }: OpenPage) {
    const origin = new URL(state.base).origin
    const elsewhere = requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)
    expect(elsewhere).toEqual([])
    expect(requests.length).toBeGreaterThan(0)
    expect(problems).toEqual([])
  }

  return { state, clock, openPage, expectCleanRun }
}

/** The page's session token (sessionStorage, as the page keeps it). */
export async function sessionOf (page: Page): Promise<{ token: string; tokenId: string } | null> {
  // the page's own globals, in a string: this project's TypeScript has no DOM library
  return JSON.parse((await page.evaluate<string | null>("sessionStorage.getItem('tessera.session')")) ?? 'null')
}

/** Signs in through the page's form. */
export async function signInOnPage (page: Page, login: string, password: string) {
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'Sign in' }) })
  await form.getByLabel('Username or email').fill(login)
  await form.getByLabel('Password').fill(password)
  await form.getByRole('button', { name: 'Sign in' }).click()
  await eventually(() => page.getByRole('heading', { level: 1 }).textContent()).toMatch(/^Signed in as /)
}

/** The widest the page is: more than the viewport means a horizontal scroll bar. */
export const scrollWidth = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth')
