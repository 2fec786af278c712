import { describe, expect, it } from 'vitest'
import { createLoggedInAdmin } from '../helpers/admin.js'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser } from '../helpers/factories.js'

// API.md Conventions: unknown body properties are ignored (never applied)
const t = useTestApp()

const limitOf = async (userId: string) => {
  const [row] = await t.context.db.database.sql<{ max: number | null; windowSeconds: number }[]>`
    select max, window_seconds as "windowSeconds" from rate_limit_overrides where user_id = ${userId}`
  return row ?? null
}

describe('PUT /v1/admin/users/:id/rate-limit with a stray userId', () => {
  it("sets the addressed user's limit and leaves the other user's alone", async () => {
    const { app, db } = t.context
    const admin = await createLoggedInAdmin(app, db.database)
    const a = await createUser(app)
    const b = await createUser(app)
    const response = await app.inject({
      method: 'PUT',
      url: `/v1/admin/users/${a.id}/rate-limit`,
      headers: bearer(admin.token),
      payload: { max: 5, windowSeconds: 60, userId: b.id, user_id: b.id },
    })
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json()).toEqual({ max: 5, windowSeconds: 60, source: 'user' })
    expect(await limitOf(a.id)).toEqual({ max: 5, windowSeconds: 60 })
    expect(await limitOf(b.id)).toBeNull()
    const [event] = await db.database.sql<{ userId: string; data: unknown }[]>`
      select user_id as "userId", data from security_events where type = 'rate_limit.changed'`
    expect(event).toEqual({ userId: a.id, data: { by: admin.user.id, max: 5, windowSeconds: 60 } })
  })
})

describe('other routes given properties they do not take', () => {
  it('PATCH /v1/admin/users/:id changes only the addressed user, and only role and disabled', async () => {
    const { app, db } = t.context
    const admin = await createLoggedInAdmin(app, db.database)
    const a = await createUser(app)
    const b = await createUser(app)
    const response = await app.inject({
      method: 'PATCH',
      url: `/v1/admin/users/${a.id}`,
      headers: bearer(admin.token),
      payload: { disabled: true, id: b.id, email: 'taken@example.com', emailVerifiedAt: '2020-01-01T00:00:00Z' },
    })
    expect(response.statusCode, response.body).toBe(200)
    const rows = await db.database.sql<{ id: string; email: string; disabled: boolean; verified: boolean }[]>`
      select id, email, disabled, email_verified_at is not null as verified from users where id in ${db.database.sql([a.id, b.id])}`
    const byId = new Map(rows.map((row) => [row.id, row]))
    expect(byId.get(a.id)).toMatchObject({ email: a.email, disabled: true, verified: false })
    expect(byId.get(b.id)).toMatchObject({ email: b.email, disabled: false })
  })

  it('PATCH /v1/me with role and id does not promote the caller or touch anyone else', async () => {
    const { app, db } = t.context
    const { user, token } = await createLoggedInUser(app)
    const other = await createUser(app)
    const response = await app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: bearer(token),
      payload: { username: `renamed_${user.username.slice(-6)}`, role: 'admin', id: other.id, passwordHash: 'x' },
    })
    expect(response.statusCode, response.body).toBe(200)
    expect(response.json().user).toMatchObject({ id: user.id, role: 'user' })
    const [row] = await db.database.sql<{ username: string }[]>`select username from users where id = ${other.id}`
    expect(row?.username).toBe(other.username)
  })
})
