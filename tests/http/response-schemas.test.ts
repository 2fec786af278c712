import { describe, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { findUserById } from '../../src/users/users-repository.js'
import { Type } from 'typebox'
import { UserSchema } from '../../src/users/users-schemas.js'
import { testConfig, useTestApp } from '../helpers/app.js'
import { createUser } from '../helpers/factories.js'
import { expectNoSecrets, expectUser } from '../helpers/expect-user.js'

const t = useTestApp()

describe('response schemas', () => {
  it('strip a password hash even if a handler returned the whole row', async () => {
    const user = await createUser(t.context.app)
    const app = await buildApp({ config: testConfig(), database: t.context.db.database, ownsDatabase: false })
    app.get('/test/raw-user', { schema: { response: { 200: Type.Object({ user: UserSchema }) } } }, async () => {
      const row = await findUserById(t.context.db.database.db, user.id)
      return {
        user: { ...row, createdAt: row?.createdAt.toISOString(), emailVerified: false, password_hash: 'x' },
      }
    })
    await app.ready()
    try {
      const response = await app.inject({ url: '/test/raw-user' })
      expect(response.statusCode).toBe(200)
      expectUser(response.json().user, { id: user.id })
      expectNoSecrets(response.body, user.password)
    } finally {
      await app.close()
    }
  })

  it('are declared for the success status of every documented route', async () => {
    const doc = (await t.context.app.inject({ url: '/docs/json' })).json()
    const operations = Object.entries(
      doc.paths as Record<string, Record<string, { responses?: object }>>
    ).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ path, method, op })))
    expect(operations.length).toBeGreaterThanOrEqual(7)
    for (const { path, method, op } of operations) {
      const statuses = Object.keys(op.responses ?? {})
      expect(
        statuses.some((s) => s.startsWith('2')),
        `${method} ${path}`
      ).toBe(true)
    }
  })
})
