import type { FastifyInstance } from 'fastify'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { buildTestApp, useTestApp } from '../helpers/app.js'
import { createUser } from '../helpers/factories.js'
import { startSmtp } from '../helpers/mail.js'

// MAIL_POLL_INTERVAL_SECONDS is 0 in every test (TEST_ENV): only the NOTIFY sent at commit can
// start a delivery here, and nothing calls deliverPending() before the mail has arrived
const t = useTestApp({ mail: { deliverOnCommit: true } })
const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close()
})

/** API.md, Mail: delivery starts within a second of the commit. */
const WITHIN_A_SECOND = { timeout: 1000, interval: 10 }

async function smtpEnv () {
  const smtp = await startSmtp()
  closers.push(smtp.close)
  return { smtp, env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } }
}

/** A second instance on the test's database, closed after the test. */
async function secondInstance (env: Record<string, string>, deliverOnCommit: boolean) {
  const app = await buildTestApp(t.context.db.database, { env, mail: { deliverOnCommit } })
  closers.push(() => app.close())
  return app
}

async function pendingMails (app: FastifyInstance): Promise<number> {
  const [row] = await app.database.sql<{ pending: number }[]>`
    select count(*)::int as pending from mail_outbox where sent_at is null`
  return row?.pending ?? -1
}

describe('delivery when the queuing transaction commits', () => {
  it("delivers a registration's mail without a poll or a manual run", async () => {
    const { smtp, env } = await smtpEnv()
    await t.setup({ env })
    const user = await createUser(t.context.app)

    await vi.waitFor(() => expect(smtp.received.map((mail) => mail.to)).toEqual([[user.email]]), WITHIN_A_SECOND)
    expect(smtp.received[0]?.data).toContain('Subject: Confirm your email address for Tessera')
    // marked sent once the SMTP server has accepted it
    await vi.waitFor(async () => expect(await pendingMails(t.context.app)).toBe(0), WITHIN_A_SECOND)
  })

  it('delivers mail queued through another instance, which does not listen', async () => {
    const { smtp, env } = await smtpEnv()
    await t.setup({ env, mail: { deliverOnCommit: false } })
    await secondInstance(env, true)
    const user = await createUser(t.context.app)

    await vi.waitFor(() => expect(smtp.received.map((mail) => mail.to)).toEqual([[user.email]]), WITHIN_A_SECOND)
  })

  it('sends each mail once when every instance is woken by its commit', async () => {
    const { smtp, env } = await smtpEnv()
    await t.setup({ env })
    const other = await secondInstance(env, true)
    const users = await Promise.all(Array.from({ length: 12 }, () => createUser(t.context.app)))

    await vi.waitFor(async () => expect(await pendingMails(t.context.app)).toBe(0), { timeout: 3000, interval: 10 })
    // joins any run still under way on either instance, so that a late duplicate would be counted
    await Promise.all([t.context.app.tessera.mailer.deliverPending(), other.tessera.mailer.deliverPending()])
    expect(smtp.received.map((mail) => mail.to[0]).sort()).toEqual(users.map((user) => user.email).sort())
  })

  it('sends at start what was queued while no instance listened', async () => {
    const { smtp, env } = await smtpEnv()
    await t.setup({ env, mail: { deliverOnCommit: false } })
    const user = await createUser(t.context.app)
    expect(await pendingMails(t.context.app)).toBe(1)

    await secondInstance(env, true)
    await vi.waitFor(() => expect(smtp.received.map((mail) => mail.to)).toEqual([[user.email]]), WITHIN_A_SECOND)
  })
})
