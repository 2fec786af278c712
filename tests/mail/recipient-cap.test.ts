import type { FastifyInstance } from 'fastify'
import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { bearer, createLoggedInUser, createUser } from '../helpers/factories.js'
import { CHANGE_SUBJECT, latestToken, mailsTo, RESET_SUBJECT, VERIFY_SUBJECT } from '../helpers/mail.js'

// the default MAIL_MAX_PER_RECIPIENT_PER_HOUR; each user's registration queues the first mail
const CAP = 10
const t = useTestApp()

const requestReset = (email: string) =>
  t.context.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email } })
const resendVerification = (token: string) =>
  t.context.app.inject({ method: 'POST', url: '/v1/me/verify-email', headers: bearer(token) })

interface StoredEvent {
  userId: string | null
  data: Record<string, unknown>
}

async function suppressions (app: FastifyInstance): Promise<StoredEvent[]> {
  return app.database.sql<StoredEvent[]>`
    select user_id as "userId", data from security_events where type = 'mail.suppressed' order by created_at`
}

describe('MAIL_MAX_PER_RECIPIENT_PER_HOUR', () => {
  it('suppresses the 11th mail to one address in an hour, answers as usual and records mail.suppressed', async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    for (let i = 2; i < CAP; i++) expect((await resendVerification(token)).statusCode).toBe(202)
    const queued = await resendVerification(token)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)
    const lastMailed = await latestToken(t.context.app, user.email, VERIFY_SUBJECT)

    const response = await resendVerification(token)
    expect([response.statusCode, response.body]).toEqual([202, queued.body])
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)
    const events = (await t.context.app.inject({ url: '/v1/me/events?limit=1', headers: bearer(token) })).json()
      .events
    expect(events[0]).toMatchObject({
      type: 'mail.suppressed',
      userId: user.id,
      data: { subject: 'Confirm your email address for Tessera', maxPerHour: CAP, recipient: expect.any(String) },
    })
    expect(JSON.stringify(events[0])).not.toContain(user.email)

    // the suppressed request issued no token: the last one mailed still works
    const verified = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/verify-email',
      payload: { token: lastMailed },
    })
    expect(verified.statusCode, verified.body).toBe(200)
  })

  it('answers a reset past the cap exactly like a reset for an unknown address, and keeps the last link working', async () => {
    const user = await createUser(t.context.app)
    for (let i = 1; i < CAP; i++) expect((await requestReset(user.email)).statusCode).toBe(202)
    const lastMailed = await latestToken(t.context.app, user.email, RESET_SUBJECT)

    const suppressed = await requestReset(user.email)
    const unknown = await requestReset('nobody@example.com')
    expect([suppressed.statusCode, suppressed.body]).toEqual([unknown.statusCode, unknown.body])
    expect(suppressed.statusCode).toBe(202)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)
    expect(await suppressions(t.context.app)).toEqual([
      {
        userId: user.id,
        data: expect.objectContaining({ subject: 'Reset your Tessera password', maxPerHour: CAP }),
      },
    ])

    const confirmed = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/password-reset/confirm',
      payload: { token: lastMailed, password: 'A-new-password-9' },
    })
    expect(confirmed.statusCode, confirmed.body).toBe(204)
  })

  it('counts every case of an address as one recipient', async () => {
    const user = await createUser(t.context.app, { email: 'Mixed.Case@Example.com' })
    const spellings = ['mixed.case@example.com', 'MIXED.CASE@EXAMPLE.COM', 'mIxEd.cAsE@eXaMpLe.CoM']
    for (let i = 1; i < CAP; i++) await requestReset(spellings[i % spellings.length] as string)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)

    await requestReset('MIXED.case@example.COM')
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)
    expect(await suppressions(t.context.app)).toHaveLength(1)
  })

  it('counts exactly under concurrent requests', async () => {
    const user = await createUser(t.context.app)
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => requestReset(i % 2 === 0 ? user.email : user.email.toUpperCase()))
    )
    expect(responses.map((response) => response.statusCode)).toEqual(Array(30).fill(202))
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)
    expect(await suppressions(t.context.app)).toHaveLength(30 - (CAP - 1))
  })

  it("caps mail to a new address that is no account's, naming the requester and not the address", async () => {
    const { user, token } = await createLoggedInUser(t.context.app)
    const target = 'someone.else@example.org'
    for (let i = 0; i <= CAP; i++) {
      const response = await t.context.app.inject({
        method: 'PATCH',
        url: '/v1/me',
        headers: bearer(token),
        payload: { email: target, currentPassword: user.password },
      })
      expect(response.statusCode).toBe(200)
    }
    expect(await mailsTo(t.context.app, target)).toHaveLength(CAP)
    // the old address is told of each request too, and hits its own cap (it also had the registration mail)
    const [event, ...more] = (await suppressions(t.context.app)).filter((e) => CHANGE_SUBJECT.test(String(e.data.subject)))
    expect(more).toEqual([])
    expect(event).toMatchObject({
      userId: user.id,
      data: { recipient: 's…@example.org', subject: 'Confirm your new email address for Tessera' },
    })
    expect(JSON.stringify(event)).not.toContain(target)
    // the mail that went out still confirms the change
    const confirmed = await t.context.app.inject({
      method: 'POST',
      url: '/v1/auth/verify-email',
      payload: { token: await latestToken(t.context.app, target, CHANGE_SUBJECT) },
    })
    expect(confirmed.json().user?.email).toBe(target)
  })

  it('queues mail again once the oldest of the hour is an hour old', async () => {
    const user = await createUser(t.context.app)
    for (let i = 1; i < CAP; i++) await requestReset(user.email)
    await requestReset(user.email)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP)

    await t.context.app.database.sql`
      update mail_outbox set created_at = created_at - interval '61 minutes'
      where id = (select id from mail_outbox order by created_at limit 1)`
    await requestReset(user.email)
    expect(await mailsTo(t.context.app, user.email)).toHaveLength(CAP + 1)
  })
})
