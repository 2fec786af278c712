import { once } from 'node:events'
import { createServer, type Server } from 'node:net'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { deliverPending, type MailTransport, pruneSentMail } from '../../src/mail/mail-service.js'
import { enqueueMail } from '../../src/mail/outbox-repository.js'
import { useTestApp } from '../helpers/app.js'
import { createUser } from '../helpers/factories.js'
import { createClock, decodeQuotedPrintable, mailsTo, startSmtp, tokenIn } from '../helpers/mail.js'

/** A port nothing listens on (taken, then released). */
async function freePort (): Promise<number> {
  const probe: Server = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

const clock = createClock()
const t = useTestApp({ now: clock.now })
const closers: (() => Promise<void>)[] = []
beforeEach(() => clock.reset())

/**
 * A delivery run with the app's clock `secondsAhead` of the real time: mail is queued at the
 * database's now(), which a clock that stands still would fall behind.
 */
function deliver (secondsAhead = 1) {
  clock.reset()
  clock.advanceSeconds(secondsAhead)
  return t.context.app.tessera.mailer.deliverPending()
}
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

describe('mail delivery', () => {
  it('sends pending mail over SMTP and marks it sent, blanking the token', async () => {
    const smtp = await startSmtp()
    closers.push(smtp.close)
    await t.setup({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_FROM: 'Tessera <auth@example.com>' },
    })
    const user = await createUser(t.context.app)
    const [queued] = await mailsTo(t.context.app, user.email)
    const token = tokenIn(queued?.bodyText ?? '')

    expect(await deliver()).toEqual({ sent: 1, failed: 0 })
    expect(smtp.received).toHaveLength(1)
    expect(smtp.received[0]).toMatchObject({ from: 'auth@example.com', to: [user.email] })
    expect(decodeQuotedPrintable(smtp.received[0]?.data ?? '')).toContain(`token: ${token}`)
    expect(smtp.received[0]?.data).toContain('Subject: Confirm your email address for Tessera')

    const [sent] = await mailsTo(t.context.app, user.email)
    expect(sent?.sentAt).toEqual(expect.any(String))
    expect(sent?.bodyText).not.toContain(token)
    expect(sent?.bodyText).toMatch(/^token: \[removed after delivery\]$/m)
    expect(await deliver()).toEqual({ sent: 0, failed: 0 })
  })

  it('retries with backoff after the SMTP server was down', async () => {
    const port = await freePort()
    await t.setup({ env: { SMTP_URL: `smtp://127.0.0.1:${port}` } })
    const user = await createUser(t.context.app)

    expect(await deliver()).toEqual({ sent: 0, failed: 1 })
    const [failed] = await mailsTo(t.context.app, user.email)
    expect(failed).toMatchObject({
      sentAt: null,
      attempts: 1,
      lastError: expect.stringMatching(/ECONNREFUSED|connect/i),
    })

    const smtp = await startSmtp(port)
    closers.push(smtp.close)
    // not due yet: the backoff holds it back
    expect(await deliver()).toEqual({ sent: 0, failed: 0 })
    expect(await deliver(31)).toEqual({ sent: 1, failed: 0 })
    expect(smtp.received.map((mail) => mail.to)).toEqual([[user.email]])
    const [sent] = await mailsTo(t.context.app, user.email)
    expect(sent).toMatchObject({ attempts: 2, lastError: null, sentAt: expect.any(String) })
  })

  it('runs by itself every MAIL_POLL_INTERVAL_SECONDS in the server', async () => {
    const smtp = await startSmtp()
    closers.push(smtp.close)
    await t.setup({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, MAIL_POLL_INTERVAL_SECONDS: '1' } })
    clock.advanceSeconds(5)
    const user = await createUser(t.context.app)
    await vi.waitFor(() => expect(smtp.received.map((mail) => mail.to)).toEqual([[user.email]]), {
      timeout: 5000,
      interval: 100,
    })
  })

  it('delivers each mail once when several workers run at the same time (SKIP LOCKED)', async () => {
    const { database } = t.context.app
    for (let i = 0; i < 30; i++) {
      await enqueueMail(database.db, t.context.app.tessera.config, { recipient: `r${i}@example.com`, subject: `s${i}`, bodyText: 'hello' })
    }
    const delivered: string[] = []
    const transport: MailTransport = {
      kind: 'log',
      async send (message) {
        await new Promise((resolve) => setTimeout(resolve, 5))
        delivered.push(message.to)
      },
      close: () => {},
    }
    const now = new Date(Date.now() + 1000)
    // four workers on their own connections, each taking small batches until nothing is left
    const worker = async () => {
      let sent = 0
      for (;;) {
        const run = await deliverPending(database.db, { transport, from: 'x@example.com', now, batchSize: 3 })
        if (run.sent + run.failed === 0) return sent
        sent += run.sent
      }
    }
    const counts = await Promise.all([worker(), worker(), worker(), worker()])
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30)
    expect(delivered).toHaveLength(30)
    expect(new Set(delivered).size).toBe(30)
    expect(counts.filter((count) => count > 0).length).toBeGreaterThan(1)
  })

  it('without SMTP_URL writes the mail to the log and marks it sent', async () => {
    const lines: Record<string, unknown>[] = []
    const { default: pino } = await import('pino')
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) })
    const { buildApp } = await import('../../src/app.js')
    const { testConfig } = await import('../helpers/app.js')
    const app = await buildApp({
      config: testConfig({ LOG_LEVEL: 'info' }),
      database: t.context.app.database,
      ownsDatabase: false,
      logger,
      mail: { deliverOnCommit: false },
    })
    closers.push(() => app.close())
    const user = await createUser(app)
    expect(await app.tessera.mailer.deliverPending()).toEqual({ sent: 1, failed: 0 })
    const logged = lines.find((line) => line.msg === 'mail (log delivery)') as {
      mail: Record<string, string>
    }
    expect(logged.mail).toMatchObject({ to: user.email, subject: 'Confirm your email address for Tessera' })
    expect(logged.mail.body).toMatch(/^token: tsr_mail_\S+$/m)
    expect(lines.some((line) => line.level === 40 && String(line.msg).includes('SMTP_URL'))).toBe(true)
  })
})

describe('pruneSentMail', () => {
  it('deletes mail sent before the retention period and keeps pending mail', async () => {
    const { database } = t.context.app
    await enqueueMail(database.db, t.context.app.tessera.config, { recipient: 'old@example.com', subject: 'old', bodyText: 'x' })
    await enqueueMail(database.db, t.context.app.tessera.config, { recipient: 'recent@example.com', subject: 'recent', bodyText: 'x' })
    await enqueueMail(database.db, t.context.app.tessera.config, { recipient: 'pending@example.com', subject: 'pending', bodyText: 'x' })
    await database.sql`update mail_outbox set sent_at = now() - interval '31 days' where subject = 'old'`
    await database.sql`update mail_outbox set sent_at = now() - interval '1 day' where subject = 'recent'`
    expect(await pruneSentMail(database, 30, new Date())).toBe(1)
    const left = await database.sql<{ subject: string }[]>`select subject from mail_outbox order by subject`
    expect(left.map((row) => row.subject)).toEqual(['pending', 'recent'])
  })
})
