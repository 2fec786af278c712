import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'

/** The page's files: plain HTML, CSS and ES modules, served as they are (no build step). */
export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url))

/**
 * API.md: no inline script or style and no third-party origin, so an injected tag runs nothing and
 * loads nothing; `frame-ancestors 'none'` stops clickjacking of the revoke buttons.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ')

const PAGE_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  // the landing pages' tokens are in the fragment, never sent; no Referer leaks the path either
  'referrer-policy': 'no-referrer',
}

/**
 * The self-service web page under /account. Encapsulated (no fastify-plugin): its static files
 * and headers stay inside this context. Every /account path is the one page, which reads its
 * path (the mail links' landing pages) and calls the JSON API; its files are under /account/assets/.
 */
export default async function webRoutes (app: FastifyInstance) {
  app.addHook('onSend', async (_request, reply) => {
    reply.headers(PAGE_HEADERS)
  })

  await app.register(fastifyStatic, {
    root: PUBLIC_DIR,
    prefix: '/account/assets/',
    index: false,
    list: false,
    // the page changes with the server: a browser asks again (a 304 when unchanged)
    cacheControl: true,
    maxAge: 0,
  })

  // under a host app's prefix (the tessera package's `prefix`), the page's own links carry it too;
  // its scripts find the API the same way, from where the page is
  const page = (await readFile(join(PUBLIC_DIR, 'index.html'), 'utf8')).replaceAll('"/account', `"${app.prefix}/account`)
  for (const url of ['/account', '/account/*']) {
    app.get(url, { schema: { hide: true } }, (_request, reply) =>
      reply.header('cache-control', 'no-cache').type('text/html; charset=utf-8').send(page))
  }
}
