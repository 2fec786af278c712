import nodemailer from 'nodemailer'
import { type Database, type DbOrTx, dbOf } from '../db/client.js'
import type { MailRow } from '../db/schema.js'
import { claimDueMail, deleteOldMail, markMailFailed, markMailSent } from './outbox-repository.js'

export interface MailMessage {
  from: string
  to: string
  subject: string
  text: string
}

/** Where mail goes: SMTP in production, the log in development. */
export interface MailTransport {
  readonly kind: 'smtp' | 'log'
  send(message: MailMessage): Promise<void>
  close(): void
}

export function createSmtpTransport (smtpUrl: string): MailTransport {
  const transporter = nodemailer.createTransport({
    url: smtpUrl,
    // fail an attempt in seconds rather than minutes: the worker retries with backoff
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  } as Parameters<typeof nodemailer.createTransport>[0])
  return {
    kind: 'smtp',
    async send (message) {
      await transporter.sendMail(message)
    },
    close: () => transporter.close(),
  }
}

export interface MailLog {
  info(fields: Record<string, unknown>, message: string): void
}

/**
 * Without SMTP_URL, API.md makes the log the delivery channel: the mail is written there whole,
 * its token included, because a verification or reset mail without its token is useless and a
 * local user has no other way to read it. This is a development mode; the server warns at start
 * that it is on, and production sets SMTP_URL (docs/accounts.md).
 */
export function createLogTransport (log: MailLog): MailTransport {
  return {
    kind: 'log',
    async send (message) {
      log.info(
        { mail: { to: message.to, subject: message.subject, body: message.text } },
        'mail (log delivery)'
      )
    },
    close: () => {},
  }
}

export interface DeliveryOptions {
  transport: MailTransport
  from: string
  now: Date
  /** How many mails one run claims (default DELIVERY_BATCH_SIZE). */
  batchSize?: number
}

export interface DeliveryResult {
  sent: number
  failed: number
}

export const MAX_MAIL_ATTEMPTS = 10
export const DELIVERY_BATCH_SIZE = 20
const LEASE_SECONDS = 120
const FIRST_RETRY_SECONDS = 30
const MAX_RETRY_SECONDS = 3600

/** 30 s, 60 s, 120 s, ... capped at an hour: a down SMTP server is not hammered. */
export function retryDelaySeconds (attempts: number): number {
  return Math.min(FIRST_RETRY_SECONDS * 2 ** Math.max(0, attempts - 1), MAX_RETRY_SECONDS)
}

const addSeconds = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000)

function describeError (error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.slice(0, 500)
}

/** One delivery run: claims due mail, sends each, records the outcome. Safe to run on every instance. */
export async function deliverPending (db: DbOrTx, options: DeliveryOptions): Promise<DeliveryResult> {
  const claimed = await claimDueMail(db, {
    now: options.now,
    leaseUntil: addSeconds(options.now, LEASE_SECONDS),
    limit: options.batchSize ?? DELIVERY_BATCH_SIZE,
    maxAttempts: MAX_MAIL_ATTEMPTS,
  })
  const result: DeliveryResult = { sent: 0, failed: 0 }
  for (const mail of claimed) {
    const ok = await deliverOne(db, mail, options)
    result[ok ? 'sent' : 'failed'] += 1
  }
  return result
}

async function deliverOne (db: DbOrTx, mail: MailRow, options: DeliveryOptions): Promise<boolean> {
  try {
    await options.transport.send({
      from: options.from,
      to: mail.recipient,
      subject: mail.subject,
      text: mail.bodyText,
    })
  } catch (error) {
    const retryAt = addSeconds(options.now, retryDelaySeconds(mail.attempts))
    await markMailFailed(db, mail.id, describeError(error), retryAt)
    return false
  }
  await markMailSent(db, mail.id, options.now)
  return true
}

/**
 * Retention: deletes mail sent more than `retentionDays` before `now` (MAIL_RETENTION_DAYS), and
 * undeliverable mail as old. Returns how many rows went. For the cleanup job and the CLI.
 */
export async function pruneSentMail (
  database: Database | DbOrTx,
  retentionDays: number,
  now: Date
): Promise<number> {
  const cutoff = addSeconds(now, -retentionDays * 86_400)
  return deleteOldMail(dbOf(database), cutoff, MAX_MAIL_ATTEMPTS)
}
