import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { CONTENT_SECURITY_POLICY, PUBLIC_DIR } from '../../src/web/web-routes.js'
import { useTestApp } from '../helpers/app.js'
import { expectError } from '../helpers/factories.js'

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

async function publicFiles (dir = PUBLIC_DIR): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  const nested = await Promise.all(entries.map((entry) =>
    entry.isDirectory() ? publicFiles(join(dir, entry.name)) : [join(dir, entry.name)]))
  return nested.flat()
}

describe('the web page under /account', () => {
  const { context, setup } = useTestApp()

  it.each(['/account', '/account/', '/account/verify-email', '/account/reset-password'])(
    'GET %s answers the page with the strict CSP, nosniff and no-referrer', async (url) => {
      const response = await context.app.inject({ url })
      expect(response.statusCode).toBe(200)
      expect(response.headers['content-type']).toMatch(/^text\/html/)
      expect(response.headers['content-security-policy']).toBe(CSP)
      expect(response.headers['x-content-type-options']).toBe('nosniff')
      expect(response.headers['referrer-policy']).toBe('no-referrer')
      expect(response.headers['set-cookie']).toBeUndefined()
      expect(response.body).toContain('<script type="module" src="/account/assets/app.js"></script>')
    })

  it('exports the policy the page is served with', () => {
    expect(CONTENT_SECURITY_POLICY).toBe(CSP)
  })

  it.each([
    ['/account/assets/app.js', /^(text|application)\/javascript/],
    ['/account/assets/views/tokens.js', /^(text|application)\/javascript/],
    ['/account/assets/style.css', /^text\/css/],
  ])('serves %s as %s with the same headers', async (url, type) => {
    const response = await context.app.inject({ url })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(type)
    expect(response.headers['content-security-policy']).toBe(CSP)
    expect(response.headers['x-content-type-options']).toBe('nosniff')
  })

  it('serves every file of the page, and every module a module imports exists', async () => {
    const files = await publicFiles()
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const url = `/account/assets/${relative(PUBLIC_DIR, file)}`
      const response = await context.app.inject({ url })
      expect(response.statusCode, url).toBe(200)
      expect(response.body).toBe(await readFile(file, 'utf8'))
      if (!file.endsWith('.js')) continue
      for (const [, specifier] of response.body.matchAll(/^import .* from '([^']+)'$/gm)) {
        const target = new URL(specifier as string, `http://page${url}`).pathname
        expect((await context.app.inject({ url: target })).statusCode, `${url} imports ${specifier}`).toBe(200)
      }
    }
  })

  it('answers 404 in the API’s error shape for a file that does not exist', async () => {
    expectError(await context.app.inject({ url: '/account/assets/nothing.js' }), 404, 'not_found')
  })

  it.each(['/account/assets/%2e%2e/web-routes.ts', '/account/assets/..%2fweb-routes.ts', '/account/assets/..%5cweb-routes.ts'])(
    'serves nothing outside its folder: %s', async (url) => {
      const response = await context.app.inject({ url })
      expect(response.body).not.toContain('fastifyStatic')
      // refused (403, 404), or the router's normalised path lands on the page itself
      expect([200, 403, 404]).toContain(response.statusCode)
      if (response.statusCode === 200) expect(response.headers['content-type']).toMatch(/^text\/html/)
    })

  it('has no inline script or style and no third-party resource, so the CSP blocks nothing', async () => {
    for (const file of await publicFiles()) {
      const text = await readFile(file, 'utf8')
      expect(text, file).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/)
      expect(text, file).not.toMatch(/\sstyle=|setAttribute\('style'|\.innerHTML|\son[a-z]+="/)
      expect(text, file).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
    }
  })

  it('is gone with WEB_UI=false: /account and its files answer 404', async () => {
    await setup({ env: { WEB_UI: 'false' } })
    expectError(await context.app.inject({ url: '/account' }), 404, 'not_found')
    expectError(await context.app.inject({ url: '/account/assets/app.js' }), 404, 'not_found')
  })

  it('leaves the API’s own headers alone: /v1 responses carry no page CSP', async () => {
    const response = await context.app.inject({ url: '/v1/scopes' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-security-policy']).toBeUndefined()
  })
})
