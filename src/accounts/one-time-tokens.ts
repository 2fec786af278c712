import type { DbOrTx } from '../db/client.js'
import type { Deps } from '../deps.js'
import type { OneTimeTokenRow, UserRow } from '../db/schema.js'
import { enqueueMailWith } from '../mail/outbox-repository.js'
import { emailChangeMail, verificationMail } from '../mail/templates.js'
import { mintToken, parseToken } from '../tokens/token-format.js'
import {
  consumeOneTimeToken,
  lockOneTimeTokenOwner,
  type OneTimePurpose,
  replaceOneTimeToken,
} from './accounts-repository.js'

interface TokenOwner {
  id: string
  email: string
  username: string
}

/**
 * Mints a mailed token (`tsr_mail_`) living EMAIL_VERIFICATION_TTL_SECONDS, stores its digest
 * only, and returns the secret for the mail.
 */
async function issueMailedToken (
  deps: Deps,
  db: DbOrTx,
  owner: { userId: string; email: string; purpose: OneTimePurpose }
): Promise<string> {
  const now = deps.now()
  const { secret, digest } = mintToken('mail')
  await replaceOneTimeToken(
    db,
    {
      userId: owner.userId,
      purpose: owner.purpose,
      email: owner.email,
      tokenHash: digest,
      expiresAt: new Date(now.getTime() + deps.config.emailVerificationTtlSeconds * 1000),
    },
    now
  )
  return secret
}

/**
 * Queues a verification mail for the user's current address, in the caller's transaction. Past
 * the recipient's mail cap no token is issued either: the one last mailed keeps working.
 */
export async function sendVerificationMail (deps: Deps, db: DbOrTx, user: TokenOwner) {
  await enqueueMailWith(db, deps.config, async (tx) => {
    const token = await issueMailedToken(deps, tx, { userId: user.id, email: user.email, purpose: 'email_verification' })
    return verificationMail(user, token, deps.config.emailVerificationTtlSeconds, deps.config.publicUrl)
  })
}

/**
 * Queues the mail that confirms a new address (past the cap, as above, with no token); the change
 * waits for that token.
 */
export async function sendEmailChangeMail (deps: Deps, db: DbOrTx, user: TokenOwner, newEmail: string) {
  await enqueueMailWith(db, deps.config, async (tx) => {
    const token = await issueMailedToken(deps, tx, { userId: user.id, email: newEmail, purpose: 'email_change' })
    return emailChangeMail(user, newEmail, token, deps.config.emailVerificationTtlSeconds, deps.config.publicUrl)
  })
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
  deps: Deps,
  db: DbOrTx,
  presented: string,
  purposes: readonly OneTimePurpose[]
): Promise<UsedToken | undefined> {
  const parsed = parseToken(presented)
  if (parsed?.kind !== 'mail') return undefined
  const user = await lockOneTimeTokenOwner(db, parsed.digest)
  if (!user || user.disabled) return undefined
  const token = await consumeOneTimeToken(db, parsed.digest, purposes, deps.now())
  return token && { token, user }
}
