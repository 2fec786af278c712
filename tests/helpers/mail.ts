import { once } from 'node:events'
import type { FastifyInstance } from 'fastify'
import { SMTPServer } from 'smtp-server'
import { expect } from 'vitest'

export interface OutboxMail {
  id: string
  recipient: string
  subject: string
  bodyText: string
  // text: drizzle turns off postgres.js date parsing on the shared client
  sentAt: string | null
  attempts: number
  lastError: string | null
}

/** Every mail in the outbox for one recipient, oldest first. */
export async function mailsTo (app: FastifyInstance, recipient: string): Promise<OutboxMail[]> {
  return app.database.sql<OutboxMail[]>`
    select id, recipient, subject, body_text as "bodyText", sent_at as "sentAt", attempts,
           last_error as "lastError"
    from mail_outbox where lower(recipient) = lower(${recipient}) order by created_at, id`
}

export function tokenIn (bodyText: string): string {
  const match = /^token: (\S+)$/m.exec(bodyText)
  expect(match, bodyText).not.toBeNull()
  return match?.[1] as string
}

/** The token of the newest mail to `recipient` whose subject matches. */
export async function latestToken (app: FastifyInstance, recipient: string, subject: RegExp): Promise<string> {
  const mails = (await mailsTo(app, recipient)).filter((mail) => subject.test(mail.subject))
  const last = mails.at(-1)
  expect(last, `no mail to ${recipient} matching ${subject}`).toBeDefined()
  return tokenIn(last?.bodyText ?? '')
}

/** A settable clock for `useTestApp({ now })`; `reset()` puts it back to the real time. */
export function createClock () {
  let current = Date.now()
  return {
    now: () => new Date(current),
    reset () {
      current = Date.now()
    },
    advanceSeconds (seconds: number) {
      current += seconds * 1000
    },
  }
}

export const VERIFY_SUBJECT = /^Confirm your email address/
export const CHANGE_SUBJECT = /^Confirm your new email address/
export const RESET_SUBJECT = /^Reset your Tessera password/

export interface ReceivedMail {
  from: string
  to: string[]
  data: string
}

/** A real SMTP server on localhost, recording what it receives. */
export async function startSmtp (port = 0) {
  const received: ReceivedMail[] = []
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData (stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          data: Buffer.concat(chunks).toString(),
        })
        callback()
      })
    },
  })
  server.listen(port, '127.0.0.1')
  await once(server.server, 'listening')
  const address = server.server.address() as { port: number }
  return {
    received,
    port: address.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

export function decodeQuotedPrintable (data: string): string {
  return data
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
}
