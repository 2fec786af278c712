import type { DbOrTx } from '../db/client.js'
import { mailOutbox } from '../db/schema.js'

export interface OutgoingMail {
  recipient: string
  subject: string
  bodyText: string
}

/**
 * Queues a mail in the caller's transaction (API.md, Mail): it exists exactly when the change
 * that caused it commits, and the delivery worker sends it afterwards.
 */
export async function enqueueMail(db: DbOrTx, mail: OutgoingMail): Promise<void> {
  await db.insert(mailOutbox).values(mail)
}
