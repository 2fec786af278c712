import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  createLogTransport,
  createSmtpTransport,
  DELIVERY_BATCH_SIZE,
  type DeliveryResult,
  deliverPending,
  type MailTransport,
} from '../mail/mail-service.js'
import { MAIL_QUEUED_CHANNEL } from '../mail/outbox-repository.js'

export interface Mailer {
  /** One delivery run now (the interval calls this too); runs never overlap within an instance. */
  deliverPending(): Promise<DeliveryResult>
}

export interface MailerOptions {
  /**
   * Deliver as soon as a transaction that queued mail commits (default true). Off in tests that
   * read a mail's token from the outbox, which delivery blanks.
   */
  deliverOnCommit?: boolean
}

/**
 * The mail delivery worker. Every transaction that queues mail NOTIFYs at commit, and each
 * instance LISTENs, so delivery starts at once (API.md, Mail); every MAIL_POLL_INTERVAL_SECONDS
 * it also sends what the outbox holds, for retries and for notifications missed while this
 * instance was down. Several instances may run at once: rows are claimed with SKIP LOCKED, so a
 * notification that wakes them all still sends each mail once.
 */
async function mailer (app: FastifyInstance, options: MailerOptions) {
  const { config } = app
  const transport: MailTransport = config.smtpUrl
    ? createSmtpTransport(config.smtpUrl)
    : createLogTransport(app.log)
  if (transport.kind === 'log') {
    app.log.warn('SMTP_URL is not set: mail, with its tokens, is written to the log (development only)')
  }
  const logFailure = (error: unknown) => app.log.warn({ err: error }, 'mail delivery run failed')

  let running: Promise<DeliveryResult> | null = null
  const run = (): Promise<DeliveryResult> => {
    running ??= deliverPending(app.database.db, {
      transport,
      from: config.mailFrom,
      now: app.now(),
    }).finally(() => {
      running = null
    })
    return running
  }
  app.decorate('mailer', { deliverPending: run })

  // A notification during a run may be for mail committed after that run claimed its rows, so it
  // asks for one more run; a full batch asks for the next. Any number of them make one queue.
  let wanted = false
  let closed = false
  let draining: Promise<void> | null = null
  const drain = async () => {
    while (wanted) {
      wanted = false
      if (closed) return
      const result = await run()
      if (result.sent + result.failed >= DELIVERY_BATCH_SIZE) wanted = true
    }
  }
  const wake = () => {
    wanted = true
    draining ??= drain()
      .catch(logFailure)
      .finally(() => {
        draining = null
      })
  }
  // the third callback runs on every (re)connection of the listener: mail queued while it was
  // disconnected sent no notification it could hear, so it looks then
  const subscription =
    options.deliverOnCommit === false ? null : await app.database.sql.listen(MAIL_QUEUED_CHANNEL, wake, wake)

  const intervalMs = config.mailPollIntervalSeconds * 1000
  const timer = intervalMs > 0 ? setInterval(() => run().catch(logFailure), intervalMs) : null
  timer?.unref()

  // runs before the pool closes (onClose hooks run in reverse registration order)
  app.addHook('onClose', async () => {
    closed = true
    if (timer) clearInterval(timer)
    await subscription?.unlisten().catch((error: unknown) => app.log.warn({ err: error }, 'mail listener'))
    await draining
    await running?.catch(() => {})
    transport.close()
  })
}

export default fp(mailer, { name: 'mailer', dependencies: ['context', 'db'] })
