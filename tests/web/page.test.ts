import { fileURLToPath } from 'node:url'
import type { Page } from 'playwright-core'
import { describe, expect, it } from 'vitest'
import { promoteToAdmin } from '../helpers/admin.js'
import {
  eventually,
  HAS_CHROMIUM,
  SCREENSHOTS_DIR,
  scrollWidth,
  sessionOf,
  signInOnPage,
  useBrowserApp,
} from '../helpers/browser.js'
import { createUser, login, type TestUser } from '../helpers/factories.js'
import { mailsTo, VERIFY_SUBJECT } from '../helpers/mail.js'

if (!HAS_CHROMIUM) {
  console.warn('[tessera tests] chromium is not installed: skipping the web page browser tests (apt-get install chromium)')
}

const PUBLIC_URL = 'https://tessera.example'
// the README's screenshots: taken on every run, written over the committed ones only on request
// (they hold a fresh secret and time each run)
const screenshot = (name: string) =>
  process.env.UPDATE_SCREENSHOTS === '1' ? { path: fileURLToPath(new URL(name, SCREENSHOTS_DIR)) } : {}

/** Fills in and sends the page's registration form; the form, for its status line. */
async function register (page: Page, fields: { email: string; username: string; password: string }) {
  const form = page.locator('form', { has: page.getByRole('heading', { name: 'Create an account' }) })
  await form.getByLabel('Email').fill(fields.email)
  await form.getByLabel('Username').fill(fields.username)
  await form.getByLabel('Password').fill(fields.password)
  await form.getByRole('button', { name: 'Create account' }).click()
  return form
}

describe.runIf(HAS_CHROMIUM)('the web page, in a real browser', () => {
  const { state, clock, openPage, expectCleanRun } = useBrowserApp({ PUBLIC_URL })

  const api = (path: string, token: string, init: RequestInit = {}) =>
    fetch(`${state.base}${path}`, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers } })

  /**
   * Signed in, with the token list and the events loaded: a test that then expires or revokes the
   * session must not race the page's first requests (one refused would end the session early).
   */
  async function signedIn (user: TestUser, viewport?: { width: number; height: number }) {
    const opened = await openPage('/account', viewport)
    await signInOnPage(opened.page, user.email, user.password)
    await eventually(() => opened.page.locator('li.token.current').count()).toBe(1)
    await eventually(() => opened.page.locator('#events li.event').count()).toBeGreaterThan(0)
    return opened
  }

  // the API's JSON, as the tests read it (its shapes are checked by the API's own tests)
  const jsonOf = async (response: Response): Promise<Record<string, any>> => (await response.json()) as Record<string, any>

  const tokenItem = (page: Page, name: string) =>
    page.locator('li.token', { has: page.getByRole('heading', { name, exact: true }) })

  it('signs in by email and marks this browser’s session in the token list, with no cookie', async () => {
    const user = await createUser(state.app)
    const opened = await signedIn(user)
    const { page } = opened
    const current = page.locator('li.token.current')
    await eventually(() => current.count()).toBe(1)
    expect(await current.textContent()).toContain('This browser')
    const stored = await sessionOf(page)
    expect(stored?.token).toMatch(/^tsr_sess_/)
    expect(await current.getAttribute('data-token-id')).toBe(stored?.tokenId)
    expect(await opened.context.cookies()).toEqual([])
    // the session is the API's: the page's token works from anywhere
    expect((await api('/v1/ping', stored?.token ?? '')).status).toBe(200)
    expectCleanRun(opened)
  })

  it('signs in by username too, and a wrong password shows the server’s message by the form', async () => {
    const user = await createUser(state.app)
    const opened = await openPage()
    const form = opened.page.locator('form', { has: opened.page.getByRole('heading', { name: 'Sign in' }) })
    await form.getByLabel('Username or email').fill(user.username)
    await form.getByLabel('Password').fill('not the password')
    await form.getByRole('button', { name: 'Sign in' }).click()
    const status = form.getByRole('status')
    await eventually(() => status.textContent()).toBe('Wrong login or password.')
    expect(await status.getAttribute('aria-live')).toBe('polite')
    await signInOnPage(opened.page, user.username, user.password)
    expectCleanRun(opened)
  })

  it('creates a personal token and shows its secret once; revoked, GET /v1/ping refuses it', async () => {
    // a person's name, for the README's screenshots
    const user = await createUser(state.app, { username: 'ada', email: 'ada@example.com' })
    const opened = await signedIn(user)
    const { page } = opened
    await page.getByRole('button', { name: 'New personal token' }).click()
    const dialog = page.getByRole('dialog', { name: 'New personal token' })
    await dialog.getByLabel('Name').fill('deploy script')
    await dialog.getByRole('checkbox', { name: /^profile:read/ }).check()
    await dialog.getByRole('checkbox', { name: /^tokens:read/ }).check()
    await dialog.getByLabel('Lifetime in days').fill('30')
    await dialog.getByLabel('Requests').fill('50')
    await dialog.getByLabel('per seconds').fill('60')
    await dialog.getByRole('button', { name: 'Create token' }).click()

    const secretBox = dialog.getByLabel('Token “deploy script”')
    await eventually(() => secretBox.count()).toBe(1)
    const secret = await secretBox.inputValue()
    expect(secret).toMatch(/^tsr_pat_[A-Za-z0-9_-]{49}$/)
    expect(await dialog.textContent()).toMatch(/will not be shown again/)
    await page.screenshot(screenshot('new-token.png'))
    await dialog.getByRole('button', { name: 'Copy' }).click()
    await eventually(() => dialog.getByRole('status').last().textContent()).toMatch(/Copied/)
    expect((await api('/v1/ping', secret)).status).toBe(200)

    await dialog.getByRole('button', { name: 'Done' }).click()
    await eventually(() => page.getByRole('dialog').count()).toBe(0)
    const item = tokenItem(page, 'deploy script')
    await eventually(() => item.count()).toBe(1)
    const text = await item.textContent()
    expect(text).toContain('profile:read, tokens:read')
    expect(text).toContain('50 requests per 60 s')
    expect(await page.content()).not.toContain(secret)
    await page.reload()
    await eventually(() => tokenItem(page, 'deploy script').count()).toBe(1)
    expect(await page.content()).not.toContain(secret)
    await page.screenshot(screenshot('token-list.png'))

    await tokenItem(page, 'deploy script').getByRole('button', { name: 'Revoke' }).click()
    const confirm = page.getByRole('dialog', { name: 'Revoke “deploy script”?' })
    await confirm.getByRole('button', { name: 'Revoke' }).click()
    await eventually(() => tokenItem(page, 'deploy script').count()).toBe(0)
    await eventually(() => page.evaluate<string>('document.activeElement.textContent')).toBe('“deploy script” is revoked.')
    const refused = await api('/v1/ping', secret)
    expect(refused.status).toBe(401)
    expect((await jsonOf(refused)).code).toBe('token_revoked')
    expectCleanRun(opened)
  })

  it('asks before revoking, and Cancel keeps the token', async () => {
    const user = await createUser(state.app)
    const secret = await createTokenByApi(user, 'keep me')
    const opened = await signedIn(user)
    await tokenItem(opened.page, 'keep me').getByRole('button', { name: 'Revoke' }).click()
    await opened.page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    await eventually(() => opened.page.getByRole('dialog').count()).toBe(0)
    expect(await tokenItem(opened.page, 'keep me').count()).toBe(1)
    expect((await api('/v1/ping', secret)).status).toBe(200)
    expectCleanRun(opened)
  })

  async function createTokenByApi (user: TestUser, name: string) {
    const { token } = await login(state.app, user)
    const created = await api('/v1/me/tokens', token, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, scopes: ['profile:read'] }),
    })
    expect(created.status).toBe(201)
    return (await jsonOf(created)).token as string
  }

  it('takes a revoked session back to sign-in with the server’s message', async () => {
    const user = await createUser(state.app)
    const opened = await signedIn(user)
    const stored = await sessionOf(opened.page)
    expect((await api('/v1/auth/logout', stored?.token ?? '', { method: 'POST' })).status).toBe(204)
    await opened.page.getByRole('button', { name: 'Refresh' }).click()
    await eventually(() => opened.page.getByRole('heading', { level: 1 }).textContent()).toBe('Your Tessera account')
    const form = opened.page.locator('form', { has: opened.page.getByRole('heading', { name: 'Sign in' }) })
    expect(await form.getByRole('status').textContent()).toBe('Token has been revoked; log in again.')
    expect(await form.getByRole('status').getAttribute('class')).toContain('error')
    expect(await sessionOf(opened.page)).toBeNull()
    expectCleanRun(opened)
  })

  it('takes an expired session back to sign-in with the server’s message', async () => {
    const user = await createUser(state.app)
    const opened = await signedIn(user)
    // SESSION_TTL_SECONDS' default, a week, and a minute more
    clock.advanceSeconds(604_800 + 60)
    await opened.page.getByRole('button', { name: 'Refresh' }).click()
    await eventually(() => opened.page.getByRole('heading', { level: 1 }).textContent()).toBe('Your Tessera account')
    const form = opened.page.locator('form', { has: opened.page.getByRole('heading', { name: 'Sign in' }) })
    expect(await form.getByRole('status').textContent()).toBe('Token has expired; log in again.')
    expect(await sessionOf(opened.page)).toBeNull()
    expectCleanRun(opened)
  })

  it('signs out, and signs out everywhere after a confirmation (every token of the user revoked)', async () => {
    const user = await createUser(state.app)
    const other = await createTokenByApi(user, 'elsewhere')
    const opened = await signedIn(user)
    const first = await sessionOf(opened.page)
    await opened.page.getByRole('button', { name: 'Sign out', exact: true }).click()
    await eventually(() => opened.page.getByRole('heading', { level: 1 }).textContent()).toBe('Your Tessera account')
    expect((await api('/v1/ping', first?.token ?? '')).status).toBe(401)
    expect((await api('/v1/ping', other)).status).toBe(200)

    await signInOnPage(opened.page, user.username, user.password)
    const second = await sessionOf(opened.page)
    await opened.page.getByRole('button', { name: 'Sign out everywhere' }).click()
    await opened.page.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click()
    await eventually(() => opened.page.getByRole('heading', { level: 1 }).textContent()).toBe('Your Tessera account')
    expect((await api('/v1/ping', second?.token ?? '')).status).toBe(401)
    expect((await api('/v1/ping', other)).status).toBe(401)
    expectCleanRun(opened)
  })

  it('registers a new account and signs it in', async () => {
    const opened = await openPage()
    await register(opened.page, { email: 'grace@example.com', username: 'grace', password: 'Compiler-1952-Hopper' })
    await eventually(() => opened.page.getByRole('heading', { level: 1 }).textContent()).toBe('Signed in as grace')
    expect(await opened.page.locator('#profile').textContent()).toContain('grace@example.com')
    expectCleanRun(opened)
  })

  it('shows a registration refusal’s message and details (a common password)', async () => {
    const opened = await openPage()
    const form = await register(opened.page, { email: 'weak@example.com', username: 'weak', password: 'password123' })
    await eventually(() => form.getByRole('status').textContent()).toMatch(/password/i)
    expect(await form.getByRole('status').getAttribute('class')).toContain('error')
    expectCleanRun(opened)
  })

  it('a verification link from the mail confirms the address, and leaves no token in the address bar', async () => {
    const user = await createUser(state.app)
    const mail = (await mailsTo(state.app, user.email)).find((each) => VERIFY_SUBJECT.test(each.subject))
    const link = /^https:\/\/tessera\.example(\/account\/verify-email#token=\S+)$/m.exec(mail?.bodyText ?? '')
    expect(link, mail?.bodyText).not.toBeNull()
    const opened = await openPage(link?.[1])
    const status = opened.page.getByRole('status')
    await eventually(() => status.textContent()).toBe(`Your address ${user.email} is confirmed.`)
    expect(opened.page.url()).toBe(`${state.base}/account/verify-email`)
    const { token } = await login(state.app, user)
    expect((await jsonOf(await api('/v1/me', token))).user.emailVerified).toBe(true)
    // used once: the same link again (pasted into this tab) is refused with the server's message
    await opened.page.goto(`${state.base}${link?.[1]}`)
    await eventually(() => opened.page.url()).toBe(`${state.base}/account/verify-email`)
    await eventually(() => status.textContent()).toMatch(/invalid, expired or already used/)
    expectCleanRun(opened)
  })

  it('a reset link sets a new password, which then signs in', async () => {
    const user = await createUser(state.app)
    const reset = await fetch(`${state.base}/v1/auth/password-reset`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: user.email }),
    })
    expect(reset.status).toBe(202)
    const mail = (await mailsTo(state.app, user.email)).find((each) => /^Reset/.test(each.subject))
    const link = /^https:\/\/tessera\.example(\/account\/reset-password#token=\S+)$/m.exec(mail?.bodyText ?? '')
    expect(link, mail?.bodyText).not.toBeNull()
    const opened = await openPage(link?.[1])
    expect(opened.page.url()).toBe(`${state.base}/account/reset-password`)
    await opened.page.getByLabel('New password', { exact: true }).fill('A-brand-new-passphrase-7')
    await opened.page.getByLabel('New password again').fill('A-brand-new-passphrase-7')
    await opened.page.getByRole('button', { name: 'Set the new password' }).click()
    await eventually(() => opened.page.getByRole('status').textContent()).toMatch(/password is changed/)
    await opened.page.getByRole('link', { name: 'Go to your account' }).click()
    await signInOnPage(opened.page, user.username, 'A-brand-new-passphrase-7')
    expectCleanRun(opened)
  })

  it('the admin finds a user, sets and clears their limit, disables them and revokes their tokens', async () => {
    const admin = await createUser(state.app)
    await promoteToAdmin(state.db.database, admin.id)
    const target = await createUser(state.app)
    const targetSession = await login(state.app, target)
    const opened = await signedIn(admin)
    const { page } = opened
    const section = page.locator('#admin')
    await section.getByLabel('Email or username contains').fill(target.username)
    await section.getByRole('button', { name: 'Search' }).click()
    await section.getByRole('button', { name: new RegExp(`^${target.username} ·`) }).click()
    const card = section.locator('.user-details')
    await eventually(() => card.textContent()).toContain('600 requests per 60 s, from the server’s default')

    await card.getByLabel('Requests per window').fill('5')
    await card.getByLabel('Window in seconds').fill('30')
    await card.getByRole('button', { name: 'Set the override' }).click()
    await eventually(() => card.textContent()).toContain('Their limit is now 5 requests per 30 s')
    expect(await card.textContent()).toContain('5 requests per 30 s, from an override set for this user')
    const own = await jsonOf(await api('/v1/me/rate-limit', targetSession.token))
    expect(own).toEqual({ max: 5, windowSeconds: 30, source: 'user' })

    await card.getByRole('button', { name: 'Clear the override' }).click()
    await eventually(() => card.textContent()).toContain('The override is cleared.')
    expect((await jsonOf(await api('/v1/me/rate-limit', targetSession.token))).source).toBe('default')

    await card.getByRole('button', { name: 'Revoke all their tokens' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke all' }).click()
    await eventually(() => card.textContent()).toContain(`Every token of ${target.username} is revoked.`)
    expect((await api('/v1/ping', targetSession.token)).status).toBe(401)

    await card.getByRole('button', { name: 'Disable the account' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click()
    await eventually(() => card.textContent()).toContain('The account is disabled')
    const refused = await fetch(`${state.base}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: target.username, password: target.password }),
    })
    expect((await jsonOf(refused)).code).toBe('account_disabled')
    await card.getByRole('button', { name: 'Enable the account' }).click()
    await eventually(() => card.textContent()).toContain('The account is enabled.')
    expect((await login(state.app, target)).token).toMatch(/^tsr_sess_/)
    expectCleanRun(opened)
  })

  it('changes the password (other tokens revoked, this browser kept) and lists the security events', async () => {
    const user = await createUser(state.app)
    const other = await createTokenByApi(user, 'old script')
    const opened = await signedIn(user)
    const profile = opened.page.locator('#profile')
    const form = profile.locator('form', { has: opened.page.getByRole('heading', { name: 'Change your password' }) })
    await form.getByLabel('Current password').fill(user.password)
    await form.getByLabel('New password').fill('Another-long-passphrase-9')
    await form.getByRole('button', { name: 'Change password' }).click()
    await eventually(() => form.getByRole('status').textContent()).toMatch(/password is changed/)
    expect((await api('/v1/ping', other)).status).toBe(401)
    expect((await api('/v1/ping', (await sessionOf(opened.page))?.token ?? '')).status).toBe(200)
    await opened.page.reload()
    const events = opened.page.locator('#events li.event')
    await eventually(() => events.count()).toBeGreaterThanOrEqual(3)
    const text = await opened.page.locator('#events').textContent()
    expect(text).toContain('Password changed')
    expect(text).toContain('Signed in')
    expect(text).toMatch(/ago|now/)
    expectCleanRun(opened)
  })

  it('changes the email address once the new address confirms it, and sends the verification mail again', async () => {
    const user = await createUser(state.app)
    const opened = await signedIn(user)
    const profile = opened.page.locator('#profile')
    await profile.getByRole('button', { name: 'Send the verification mail again' }).click()
    await eventually(() => profile.getByRole('status').first().textContent()).toMatch(/verification/i)
    expect((await mailsTo(state.app, user.email)).filter((mail) => VERIFY_SUBJECT.test(mail.subject))).toHaveLength(2)

    const form = profile.locator('form', { has: opened.page.getByRole('heading', { name: 'Change your email address' }) })
    await form.getByLabel('New email address').fill('moved@example.com')
    await form.getByLabel('Current password').fill(user.password)
    await form.getByRole('button', { name: 'Change email' }).click()
    await eventually(() => form.getByRole('status').textContent()).toContain('A mail to moved@example.com is on its way')
    const mail = (await mailsTo(state.app, 'moved@example.com')).at(-1)
    const link = /^https:\/\/tessera\.example(\/account\/verify-email#token=\S+)$/m.exec(mail?.bodyText ?? '')
    expect(link, mail?.bodyText).not.toBeNull()
    await opened.page.goto(`${state.base}${link?.[1]}`)
    await eventually(() => opened.page.getByRole('status').textContent()).toBe('Your address moved@example.com is confirmed.')
    await opened.page.getByRole('link', { name: 'Go to your account' }).click()
    // the same tab's session is still there (sessionStorage), and the account shows the new address
    await eventually(() => opened.page.locator('#profile').textContent()).toContain('moved@example.com')
    expectCleanRun(opened)
  })

  it('works with the keyboard alone: sign in, open the new-token dialog, close it with Escape', async () => {
    const user = await createUser(state.app)
    const opened = await openPage()
    const { page } = opened
    await page.keyboard.press('Tab')
    expect(await page.evaluate<string>('document.activeElement.labels[0].textContent')).toBe('Username or email')
    await page.keyboard.type(user.username)
    await page.keyboard.press('Tab')
    await page.keyboard.type(user.password)
    await page.keyboard.press('Enter')
    await eventually(() => page.evaluate<string>('document.activeElement.textContent')).toBe(`Signed in as ${user.username}`)
    for (let presses = 0; presses < 20; presses++) {
      await page.keyboard.press('Tab')
      if (await page.evaluate<string>('document.activeElement.textContent') === 'New personal token') break
    }
    await page.keyboard.press('Enter')
    await eventually(() => page.getByRole('dialog').count()).toBe(1)
    expect(await page.evaluate<string>('document.activeElement.name')).toBe('name')
    await page.keyboard.press('Escape')
    await eventually(() => page.getByRole('dialog').count()).toBe(0)
    expectCleanRun(opened)
  })

  it('labels every control and fits 375 px with no horizontal scroll, on every view', async () => {
    const admin = await createUser(state.app, { username: 'a_rather_long_username_for_375px' })
    await promoteToAdmin(state.db.database, admin.id)
    await createTokenByApi(admin, 'a-token-name-that-is-long-enough-to-push-a-narrow-layout-sideways-if-it-could')
    const opened = await openPage('/account', { width: 375, height: 740 })
    const { page } = opened
    const unlabelled = () => page.evaluate<string[]>(`[...document.querySelectorAll('input, button, select, textarea')]
      .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || (control.tagName === 'BUTTON' && control.textContent.trim())))
      .map((control) => control.outerHTML)`)
    expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
    expect(await unlabelled()).toEqual([])

    await signInOnPage(page, admin.username, admin.password)
    // the API's session (createTokenByApi signs in), the personal token, and this browser's
    await eventually(() => page.locator('li.token').count()).toBe(3)
    await page.locator('#admin').getByLabel('Email or username contains').fill('rather')
    await page.locator('#admin').getByRole('button', { name: 'Search' }).click()
    await page.locator('#admin').getByRole('button', { name: /^a_rather_long_username/ }).click()
    await eventually(() => page.locator('#admin .user-details').textContent()).toContain('Rate limit')
    expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
    expect(await unlabelled()).toEqual([])

    await page.getByRole('button', { name: 'New personal token' }).click()
    const dialog = page.getByRole('dialog')
    expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
    expect(await unlabelled()).toEqual([])
    await dialog.getByLabel('Name').fill('narrow')
    await dialog.getByRole('checkbox', { name: /^admin/ }).check()
    await dialog.getByRole('button', { name: 'Create token' }).click()
    await eventually(() => dialog.locator('#new-token-secret').count()).toBe(1)
    expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
    expect(await unlabelled()).toEqual([])

    for (const path of ['/account/verify-email', '/account/reset-password#token=x']) {
      await page.goto(`${(new URL(page.url())).origin}${path}`)
      await eventually(() => page.getByRole('heading', { level: 1 }).count()).toBe(1)
      expect(await scrollWidth(page)).toBeLessThanOrEqual(375)
      expect(await unlabelled()).toEqual([])
    }
    expectCleanRun(opened)
  })
})
