import type { DbOrTx } from '../db/client.js'
import type { OneTimeTokenRow, UserRow } from '../db/schema.js'
import { enqueueMailWith, type QueueOptions } from '../mail/outbox-repository.js'
import { emailChangeMail, verificationMail } from '../mail/templates.js'
import { mintToken, parseToken } from '../tokens/token-format.js'
import {
  consumeOneTimeToken,
  lockOneTimeTokenOwner,
  type OneTimePurpose,
  replaceOneTimeToken,
} from './accounts-repository.js'

/** API.md's default lifetime of a verification mail (EMAIL_VERIFICATION_TTL_SECONDS). */
export const DEFAULT_EMAIL_VERIFICATION_TTL_SECONDS = 172_800

export interface IssueOptions {
  ttlSeconds: number
  now: Date
}

interface TokenOwner {
  id: string
  email: string
  username: string
}

/** Mints a mailed token (`tsr_mail_`), stores its digest only, and returns the secret for the mail. */
export async function issueOneTimeToken (
  db: DbOrTx,
  owner: { userId: string; email: string; purpose: OneTimePurpose },
  options: IssueOptions
): Promise<string> {
  const { secret, digest } = mintToken('mail')
  await replaceOneTimeToken(
    db,
    {
      userId: owner.userId,
      purpose: owner.purpose,
      email: owner.email,
      tokenHash: digest,
      expiresAt: new Date(options.now.getTime() + options.ttlSeconds * 1000),
    },
    options.now
  )
  return secret
}

/**
 * Queues a verification mail for the user's current address, in the caller's transaction. Past
 * the recipient's mail cap no token is issued either: the one last mailed keeps working.
 */
export async function sendVerificationMail (
  db: DbOrTx,
  user: TokenOwner,
  options: IssueOptions,
  queue?: QueueOptions
) {
  await enqueueMailWith(
    db,
    async (tx) => {
      const token = await issueOneTimeToken(
        tx,
        { userId: user.id, email: user.email, purpose: 'email_verification' },
        options
      )
      return verificationMail(user, token, options.ttlSeconds)
    },
    queue
  )
}

/**
 * Queues the mail that confirms a new address (past the cap, as above, with no token); the change
 * waits for that token.
 */
export async function sendEmailChangeMail (
  db: DbOrTx,
  user: TokenOwner,
  newEmail: string,
  options: IssueOptions,
  queue?: QueueOptions
) {
  await enqueueMailWith(
    db,
    async (tx) => {
      const token = await issueOneTimeToken(
        tx,
        { userId: user.id, email: newEmail, purpose: 'email_change' },
        options
      )
      return emailChangeMail(user, newEmail, token, options.ttlSeconds)
    },
    queue
  )
}

export interface UsedToken {
  token: OneTimeTokenRow
  /** Its owner, locked for the rest of the transaction. */
  user: UserRow
}

/**
 * Uses a presented mailed token for one of `purposes`. Anything wrong (malformed, another kind,
 * unknown, wrong purpose, used, expired, or a disabled owner) is `undefined`; a malformed one
 * costs no query. The owner is locked before the token is used and its disabled flag read under
 * that lock, so a disabling that commits first wins: a disabled account completes no reset or
 * email change, not even one racing its disabling.
 */
export async function useOneTimeToken (
  db: DbOrTx,
  presented: string,
  purposes: readonly OneTimePurpose[],
  now: Date
): Promise<UsedToken | undefined> {
  const parsed = parseToken(presented)
  if (parsed?.kind !== 'mail') return undefined
  const user = await lockOneTimeTokenOwner(db, parsed.digest)
  if (!user || user.disabled) return undefined
  const token = await consumeOneTimeToken(db, parsed.digest, purposes, now)
  return token && { token, user }
}
