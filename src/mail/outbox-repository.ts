import { createHash } from 'node:crypto'
import { and, asc, sql as dsql, eq, inArray, isNull, lt, lte, or } from 'drizzle-orm'
import type { Config } from '../config.js'
import type { DbOrTx, Tx } from '../db/client.js'
import { lockUntilTransactionEnds } from '../db/locks.js'
import { type MailRow, mailOutbox } from '../db/schema.js'
import { recordEvent, recordEventForAddress } from '../events/events-repository.js'

export interface OutgoingMail {
  recipient: string
  subject: string
  bodyText: string
  /** The account the mail is for (its owner, or who asked for it), named by `mail.suppressed`. */
  userId?: string | null
}

/** Announces, at commit, that mail is waiting: every instance's mailer LISTENs for it. */
export const MAIL_QUEUED_CHANNEL = 'tessera_mail_queued'

/**
 * The cap a mail is queued under, MAIL_MAX_PER_RECIPIENT_PER_HOUR: required, so a path that
 * queues mail cannot forget it (services pass their `deps.config`).
 */
export type MailSettings = Pick<Config, 'mailMaxPerRecipientPerHour'>

export interface QueueOptions {
  /**
   * Queue only if the recipient is an account's address, addressed as the account spells it, with
   * the same statements whether or not it is (the password reset: no account enumeration).
   */
  onlyToAccount?: boolean
}

/** Thrown inside the savepoint to undo the mail's preparation; never leaves this module. */
class MailSuppressed extends Error {
  constructor (readonly mail: OutgoingMail) {
    super('mail suppressed')
  }
}

/**
 * Queues a mail in the caller's transaction (API.md, Mail): it exists exactly when the change
 * that caused it commits, and the NOTIFY sent with it wakes the mailers at that moment. Past the
 * recipient's cap the mail is dropped and a `mail.suppressed` event recorded instead (the caller
 * answers as usual). Returns whether the mail was queued.
 */
export async function enqueueMail (db: DbOrTx, settings: MailSettings, mail: OutgoingMail): Promise<boolean> {
  return enqueueMailWith(db, settings, async () => mail)
}

/**
 * Like enqueueMail, for a mail that needs work done first (issuing the token it carries): `prepare`
 * runs in a savepoint that is rolled back when the mail is suppressed, so a token nobody receives
 * never retires the one the recipient last got (else flooding an address past its cap would kill
 * its owner's latest reset link).
 */
export async function enqueueMailWith (
  db: DbOrTx,
  settings: MailSettings,
  prepare: (tx: Tx) => Promise<OutgoingMail>,
  options: QueueOptions = {}
): Promise<boolean> {
  const max = settings.mailMaxPerRecipientPerHour
  const onlyToAccount = options.onlyToAccount === true
  try {
    await db.transaction(async (tx) => {
      const mail = await prepare(tx)
      // the lock comes after `prepare`, as in every transaction that queues mail after its change
      // (row locks first, this one last), so two of them never wait on each other in a cycle; it is
      // held to commit, so the next count sees this mail: the cap is exact under concurrency
      await lockUntilTransactionEnds(tx, 'mailRecipient', dsql`lower(${mail.recipient})`)
      if ((await countRecentMail(tx, mail.recipient, max)) >= max) throw new MailSuppressed(mail)
      await insertMail(tx, mail, onlyToAccount)
    })
    return true
  } catch (error) {
    if (!(error instanceof MailSuppressed)) throw error
    await recordSuppression(db, error.mail, max, onlyToAccount)
    return false
  }
}

/** Mails to `recipient` (any case) queued in the last hour, counted up to `max`: no more is read. */
async function countRecentMail (tx: Tx, recipient: string, max: number): Promise<number> {
  const [row] = await tx.execute<{ recent: number }>(dsql`
    select count(*)::int as recent from (
      select 1 from mail_outbox
      where lower(recipient) = lower(${recipient}) and created_at > now() - interval '1 hour'
      limit ${max}
    ) as last_hour`)
  return row?.recent ?? 0
}

/** Inserts the mail and NOTIFYs in one statement; PostgreSQL delivers the NOTIFY only on commit. */
async function insertMail (tx: Tx, mail: OutgoingMail, onlyToAccount: boolean): Promise<void> {
  // a disabled account gets no reset mail: its token could not be used (useOneTimeToken)
  const rows = onlyToAccount
    ? dsql`select email::text, ${mail.subject}, ${mail.bodyText} from users where email = ${mail.recipient} and not disabled`
    : dsql`values (${mail.recipient}, ${mail.subject}, ${mail.bodyText})`
  await tx.execute(dsql`
    with queued as (insert into mail_outbox (recipient, subject, body_text) ${rows} returning id)
    select pg_notify(${MAIL_QUEUED_CHANNEL}, '') from queued`)
}

/**
 * What a suppression records: which mail, the cap, and the address masked, with a digest that an
 * operator can compare with a known address's. The address itself is not stored: it may be no
 * account's (an email change's new address, a reset asked for by a stranger).
 */
function suppressionDetails (mail: OutgoingMail, max: number) {
  const address = mail.recipient.toLowerCase()
  return {
    recipient: maskAddress(address),
    recipientSha256: createHash('sha256').update(address).digest('hex'),
    subject: mail.subject,
    maxPerHour: max,
  }
}

/** `a…@example.com`: enough to tell addresses apart at a glance, too little to mail one. */
function maskAddress (address: string): string {
  const at = address.lastIndexOf('@')
  const local = at === -1 ? address : address.slice(0, at)
  return `${local.slice(0, 1)}…${at === -1 ? '' : address.slice(at)}`
}

async function recordSuppression (db: DbOrTx, mail: OutgoingMail, max: number, onlyToAccount: boolean) {
  const event = { type: 'mail.suppressed', data: suppressionDetails(mail, max) } as const
  if (onlyToAccount) await recordEventForAddress(db, mail.recipient, event)
  else await recordEvent(db, { ...event, userId: mail.userId ?? null })
}

/**
 * Claims up to `limit` due mails for one delivery attempt. `FOR UPDATE SKIP LOCKED` lets several
 * instances claim at once without taking the same row; moving `next_attempt_at` to `leaseUntil`
 * keeps a claimed mail away from the others while it is being sent, and hands it back if this
 * process dies mid-send.
 */
export async function claimDueMail (
  db: DbOrTx,
  options: { now: Date; leaseUntil: Date; limit: number; maxAttempts: number }
): Promise<MailRow[]> {
  const due = db
    .select({ id: mailOutbox.id })
    .from(mailOutbox)
    .where(
      and(
        isNull(mailOutbox.sentAt),
        lte(mailOutbox.nextAttemptAt, options.now),
        lt(mailOutbox.attempts, options.maxAttempts)
      )
    )
    .orderBy(asc(mailOutbox.nextAttemptAt))
    .limit(options.limit)
    .for('update', { skipLocked: true })
  return db
    .update(mailOutbox)
    .set({ attempts: dsql`${mailOutbox.attempts} + 1`, nextAttemptAt: options.leaseUntil })
    .where(inArray(mailOutbox.id, due))
    .returning()
}

/**
 * Marks a mail delivered and blanks its token line (and link): the recipient has it now, and a live
 * one-time token should not sit in plain text in the table for the retention period.
 */
export async function markMailSent (db: DbOrTx, id: string, now: Date): Promise<void> {
  await db
    .update(mailOutbox)
    .set({
      sentAt: now,
      lastError: null,
      // 'n': newline-sensitive, so ^ and $ match at each line; a web page link (PUBLIC_URL)
      // carries the same token in its fragment
      bodyText: dsql`regexp_replace(regexp_replace(${mailOutbox.bodyText}, '^token: .*$', 'token: [removed after delivery]', 'gn'), '#token=[^[:space:]]*', '#token=[removed-after-delivery]', 'g')`,
    })
    .where(eq(mailOutbox.id, id))
}

export async function markMailFailed (db: DbOrTx, id: string, error: string, retryAt: Date): Promise<void> {
  await db.update(mailOutbox).set({ lastError: error, nextAttemptAt: retryAt }).where(eq(mailOutbox.id, id))
}

/** Deletes mail sent before `cutoff`, and mail given up on (attempts exhausted) created before it. */
export async function deleteOldMail (db: DbOrTx, cutoff: Date, maxAttempts: number): Promise<number> {
  const rows = await db
    .delete(mailOutbox)
    .where(
      or(
        lt(mailOutbox.sentAt, cutoff),
        and(
          isNull(mailOutbox.sentAt),
          dsql`${mailOutbox.attempts} >= ${maxAttempts}`,
          lt(mailOutbox.createdAt, cutoff)
        )
      )
    )
    .returning({ id: mailOutbox.id })
  return rows.length
}
