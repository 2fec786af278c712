import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'

const t = useTestApp()

describe('OpenAPI docs', () => {
  it('GET /docs answers 200 HTML', async () => {
    const response = await t.context.app.inject({ url: '/docs' })
    expect(response.statusCode).toBe(200)
    expect(response.headers['content-type']).toMatch(/^text\/html/)
    expect(response.body).toMatch(/<html/i)
  })

  it('GET /docs/json is an OpenAPI 3 document with the routes and their schemas', async () => {
    const response = await t.context.app.inject({ url: '/docs/json' })
    expect(response.statusCode).toBe(200)
    const doc = response.json()
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/auth/login',
        '/v1/auth/register',
        '/v1/me',
        '/v1/ping',
        '/v1/auth/logout',
        '/health',
      ])
    )
    const login = doc.paths['/v1/auth/login'].post
    expect(login.requestBody.content['application/json'].schema.properties).toHaveProperty('password')
    expect(Object.keys(login.responses)).toEqual(expect.arrayContaining(['200', '400', '401']))
    expect(JSON.stringify(doc)).not.toMatch(/passwordHash|password_hash/)
  })
})
