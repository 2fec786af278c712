import { and, asc, sql as dsql, eq, inArray, isNull, lt, lte, or } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { type MailRow, mailOutbox } from '../db/schema.js'

export interface OutgoingMail {
  recipient: string
  subject: string
  bodyText: string
}

/**
 * Queues a mail in the caller's transaction (API.md, Mail): it exists exactly when the change
 * that caused it commits, and the delivery worker sends it afterwards.
 */
export async function enqueueMail (db: DbOrTx, mail: OutgoingMail): Promise<void> {
  await db.insert(mailOutbox).values(mail)
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
 * Marks a mail delivered and blanks its token line: the recipient has it now, and a live
 * one-time token should not sit in plain text in the table for the retention period.
 */
export async function markMailSent (db: DbOrTx, id: string, now: Date): Promise<void> {
  await db
    .update(mailOutbox)
    .set({
      sentAt: now,
      lastError: null,
      // 'n': newline-sensitive, so ^ and $ match at each line
      bodyText: dsql`regexp_replace(${mailOutbox.bodyText}, '^token: .*$', 'token: [removed after delivery]', 'gn')`,
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
