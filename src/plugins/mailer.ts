import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import {
  createLogTransport,
  createSmtpTransport,
  type DeliveryResult,
  deliverPending,
  type MailTransport,
} from '../mail/mail-service.js'

export interface Mailer {
  /** One delivery run now (the interval calls this too); runs never overlap within an instance. */
  deliverPending(): Promise<DeliveryResult>
}

declare module 'fastify' {
  interface FastifyInstance {
    mailer: Mailer
  }
}

/**
 * The mail delivery worker: every MAIL_POLL_INTERVAL_SECONDS it sends what the outbox holds.
 * Several instances may run it at once (rows are claimed with SKIP LOCKED).
 */
async function mailer (app: FastifyInstance) {
  const { config } = app
  const transport: MailTransport = config.smtpUrl
    ? createSmtpTransport(config.smtpUrl)
    : createLogTransport(app.log)
  if (transport.kind === 'log') {
    app.log.warn('SMTP_URL is not set: mail, with its tokens, is written to the log (development only)')
  }

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

  const intervalMs = config.mailPollIntervalSeconds * 1000
  const timer =
    intervalMs > 0
      ? setInterval(() => {
        run().catch((error) => app.log.warn({ err: error }, 'mail delivery run failed'))
      }, intervalMs)
      : null
  timer?.unref()

  // runs before the pool closes (onClose hooks run in reverse registration order)
  app.addHook('onClose', async () => {
    if (timer) clearInterval(timer)
    await running?.catch(() => {})
    transport.close()
  })
}

export default fp(mailer, { name: 'mailer', dependencies: ['context', 'db'] })
