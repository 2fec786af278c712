import type { Tx } from '../db/client.js'
import type { OneTimeTokenRow, UserRow } from '../db/schema.js'
import type { AccountDeps, Deps } from '../deps.js'
import { ApiError } from '../errors.js'
import { recordEvent } from '../events/events-repository.js'
import { enqueueMail, enqueueMailWith } from '../mail/outbox-repository.js'
import { emailChangedNotice, passwordResetMail, passwordResetNotice } from '../mail/templates.js'
import { mintToken } from '../tokens/token-format.js'
import { revokeAllUserTokens } from '../tokens/tokens-repository.js'
import type { RequestInfo } from '../tokens/tokens-service.js'
import * as users from '../users/users-repository.js'
import { assertPasswordAllowed, conflictError } from '../users/users-service.js'
import { issuePasswordResetByEmail, retireUserOneTimeTokens } from './accounts-repository.js'
import { sendVerificationMail, type UsedToken, useOneTimeToken } from './one-time-tokens.js'

/**
 * One answer for every unusable token (malformed, unknown, used, expired, another purpose, or
 * for an address the account no longer has): the client's remedy is the same, ask for a new mail.
 * A 400 on the `token` field, not a 401: the request carries no bearer credential to refuse.
 */
export function invalidMailToken (): ApiError {
  const message = 'is invalid, expired or already used; ask for a new mail'
  return new ApiError('validation_failed', {
    message: `token ${message}`,
    details: [{ path: '/token', message }],
  })
}

function tokenOwner (used: UsedToken | undefined): [OneTimeTokenRow, UserRow] {
  if (!used) throw invalidMailToken()
  return [used.token, used.user]
}

/**
 * Confirms an address from a verification or email-change mail. A verification token only
 * counts for the address it was sent to; an email change switches the account to the new
 * address (verified, since its owner just read the mail) and tells the old one.
 */
export async function verifyEmail (deps: Deps, presented: string, request: RequestInfo) {
  try {
    return await deps.database.db.transaction(async (tx) => {
      const used = await useOneTimeToken(deps, tx, presented, ['email_verification', 'email_change'])
      const [token, user] = tokenOwner(used)
      if (token.purpose === 'email_change') return completeEmailChange(deps, tx, user, token, request)
      const now = deps.now()
      // a mail to an address the account has since left must not verify the current one
      if (token.email.toLowerCase() !== user.email.toLowerCase()) throw invalidMailToken()
      const verified = await users.updateUser(
        tx,
        user.id,
        { emailVerifiedAt: user.emailVerifiedAt ?? now },
        now
      )
      await recordEvent(tx, {
        type: 'email.verified',
        userId: user.id,
        ...request,
        data: { email: user.email },
      })
      return verified ?? user
    })
  } catch (error) {
    throw conflictError(error) ?? error
  }
}

async function completeEmailChange (
  deps: Deps,
  tx: Tx,
  user: UserRow,
  token: OneTimeTokenRow,
  request: RequestInfo
): Promise<UserRow> {
  const now = deps.now()
  // a unique violation here (the address was taken meanwhile) rolls back, token included: 409
  const changed = await users.updateUser(tx, user.id, { email: token.email, emailVerifiedAt: now }, now)
  if (!changed) throw invalidMailToken()
  const data = { email: changed.email, previousEmail: user.email }
  await recordEvent(tx, {
    type: 'user.updated',
    userId: user.id,
    ...request,
    data: { fields: ['email'], ...data },
  })
  await recordEvent(tx, { type: 'email.verified', userId: user.id, ...request, data })
  await enqueueMail(tx, deps.config, emailChangedNotice(changed, user.email))
  return changed
}

/**
 * Sends a fresh verification mail (the older ones stop working). An address that is already
 * verified gets none: there is nothing to confirm, and the answer is the same 202.
 */
export async function resendVerification (deps: Deps, userId: string): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const user = await users.findUserById(tx, userId)
    if (!user) throw new ApiError('not_found')
    if (user.emailVerifiedAt !== null) return
    await sendVerificationMail(deps, tx, user)
  })
}

/**
 * Starts a reset: the same answer, the same statements and no password hashing whether or not
 * the address has an account (API.md: no enumeration). The mail goes only to a real account;
 * past the address's mail cap neither the token nor the mail is kept, so the link its owner
 * last received still works.
 */
export async function requestPasswordReset (deps: Deps, email: string): Promise<void> {
  const now = deps.now()
  const ttlSeconds = deps.config.passwordResetTtlSeconds
  const { secret, digest } = mintToken('mail')
  await enqueueMailWith(
    deps.database.db,
    deps.config,
    async (tx) => {
      await issuePasswordResetByEmail(tx, {
        email,
        tokenHash: digest,
        expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
        now,
      })
      return passwordResetMail(email, secret, ttlSeconds, deps.config.publicUrl)
    },
    { onlyToAccount: true }
  )
}

/**
 * Sets a new password from a reset mail, revokes every token of the user and retires every other
 * mailed token of theirs: whoever held a session, or started an email change, may be the reason
 * for the reset (API.md, Mail). The reset proves the user reads mail at the address,
 * so it also verifies it (otherwise, with REQUIRE_EMAIL_VERIFICATION, a user whose verification
 * mail expired could never log in to ask for another).
 */
export async function confirmPasswordReset (
  deps: AccountDeps,
  body: { token: string; password: string },
  request: RequestInfo
): Promise<void> {
  await deps.database.db.transaction(async (tx) => {
    const used = await useOneTimeToken(deps, tx, body.token, ['password_reset'])
    const [token, user] = tokenOwner(used)
    if (token.email.toLowerCase() !== user.email.toLowerCase()) throw invalidMailToken()
    // a rejected password rolls the transaction back, so the token still works for a better one
    assertPasswordAllowed(body.password, user)
    const passwordHash = await deps.passwords.hash(body.password)
    const now = deps.now()
    await users.updateUser(tx, user.id, { passwordHash, emailVerifiedAt: user.emailVerifiedAt ?? now }, now)
    const revoked = await revokeAllUserTokens(tx, user.id, now)
    // a pending email change would otherwise outlive the reset that is meant to end a takeover
    await retireUserOneTimeTokens(tx, user.id, now)
    await recordEvent(tx, {
      type: 'password.reset',
      userId: user.id,
      ...request,
      data: { revokedTokens: revoked },
    })
    await enqueueMail(tx, deps.config, passwordResetNotice(user))
  })
}
