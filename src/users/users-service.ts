import { retireUserOneTimeTokens } from '../accounts/accounts-repository.js'
import { sendEmailChangeMail, sendVerificationMail } from '../accounts/one-time-tokens.js'
import type { Tx } from '../db/client.js'
import type { UserRow } from '../db/schema.js'
import type { AccountDeps } from '../deps.js'
import { ApiError } from '../errors.js'
import { recordEvent } from '../events/events-repository.js'
import { enqueueMail } from '../mail/outbox-repository.js'
import { emailChangeRequestedNotice, passwordChangedNotice } from '../mail/templates.js'
import { revokeAllUserTokens } from '../tokens/tokens-repository.js'
import { issueSessionToken, type NewToken, type RequestInfo } from '../tokens/tokens-service.js'
import { passwordProblem } from './passwords.js'
import * as repo from './users-repository.js'
import type { ChangePasswordBody, LoginBody, RegisterBody, UpdateMeBody, User } from './users-schemas.js'

export function toUser (row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    role: row.role,
    emailVerified: row.emailVerifiedAt !== null,
    createdAt: row.createdAt.toISOString(),
  }
}

export function conflictError (error: unknown): ApiError | null {
  const field = repo.uniqueViolation(error)
  if (field === 'email') return new ApiError('email_taken')
  if (field === 'username') return new ApiError('username_taken')
  return null
}

export function assertPasswordAllowed (
  password: string,
  identity: { username: string; email: string },
  field = 'password'
) {
  const problem = passwordProblem(password, identity)
  if (problem) {
    throw new ApiError('validation_failed', {
      message: `${field} ${problem}`,
      details: [{ path: `/${field}`, message: problem }],
    })
  }
}

export async function registerUser (
  deps: AccountDeps,
  body: RegisterBody,
  request: RequestInfo
): Promise<UserRow> {
  assertPasswordAllowed(body.password, body)
  const passwordHash = await deps.passwords.hash(body.password)
  try {
    return await deps.database.db.transaction(async (tx) => {
      const user = await repo.insertUser(tx, { email: body.email, username: body.username, passwordHash })
      await recordEvent(tx, { type: 'user.registered', userId: user.id, ...request })
      await sendVerificationMail(deps, tx, user)
      return user
    })
  } catch (error) {
    throw conflictError(error) ?? error
  }
}

export interface LoginResult {
  user: UserRow
  token: NewToken
}

/** API.md: a login names its account by exactly one of username or email. */
function assertOneLoginName (body: LoginBody): void {
  if ((body.username === undefined) !== (body.email === undefined)) return
  throw new ApiError('validation_failed', {
    message: 'Give exactly one of username or email.',
    details: [
      {
        path: body.username === undefined ? '/username' : '/email',
        message: 'exactly one of username or email is required',
      },
    ],
  })
}

export async function login (deps: AccountDeps, body: LoginBody, request: RequestInfo): Promise<LoginResult> {
  assertOneLoginName(body)
  const { db } = deps.database
  const lookup = await repo.findLoginAccount(db, body)
  const found = lookup.user
  // after the lookup, to spend the budget of the account it resolves, but before the password
  // check, so that parallel guesses cannot slip past it; the same for unknown names and right passwords
  const notAFailure = await deps.loginThrottle?.begin(
    found
      ? { userId: found.id }
      : { unknown: body.email !== undefined ? 'email' : 'username', normalizedName: lookup.normalizedName }
  )
  // always one argon2 verification, against a dummy hash for unknown names (timing-safe)
  const passwordOk = await deps.passwords.verify(found?.passwordHash ?? null, body.password)
  if (!found || !passwordOk) {
    await recordEvent(db, {
      type: 'login.failed',
      userId: found?.id ?? null,
      ...request,
      // never the typed name: one that matches no account may be a password typed in the wrong field
      data: { reason: found ? 'bad_password' : 'unknown_account' },
    })
    throw new ApiError('invalid_credentials')
  }
  await notAFailure?.()
  // only after a correct password, so these answers reveal nothing to a guesser
  if (found.disabled) throw new ApiError('account_disabled')
  if (deps.config.requireEmailVerification && found.emailVerifiedAt === null) { throw new ApiError('email_unverified') }

  const rehash = deps.passwords.needsRehash(found.passwordHash)
    ? await deps.passwords.hash(body.password)
    : null
  const token = await db.transaction(async (tx) => {
    await assertStillCurrent(tx, deps, found, body.password)
    if (rehash) await repo.updateUser(tx, found.id, { passwordHash: rehash }, deps.now())
    const issued = await issueSessionToken(deps, tx, found.id, { name: body.tokenName ?? 'session', request })
    await recordEvent(tx, { type: 'login.succeeded', userId: found.id, tokenId: issued.row.id, ...request })
    return issued
  })
  return { user: found, token }
}

/**
 * Re-reads the user under its row lock, which every password change, reset and disabling holds
 * while it revokes the user's tokens: a password verified before one of them committed is stale,
 * and a session issued on it would outlive the revocation. Only a login's rehash changes the hash
 * and not the password; the password is then verified again against the hash now stored.
 */
async function assertStillCurrent (tx: Tx, deps: AccountDeps, verified: UserRow, password: string) {
  const current = await repo.lockUserById(tx, verified.id)
  if (!current) throw new ApiError('invalid_credentials')
  const passwordUnchanged =
    current.passwordHash === verified.passwordHash ||
    (await deps.passwords.verify(current.passwordHash, password))
  if (!passwordUnchanged) throw new ApiError('invalid_credentials')
  if (current.disabled) throw new ApiError('account_disabled')
}

export async function getUser (deps: AccountDeps, userId: string): Promise<UserRow> {
  const user = await repo.findUserById(deps.database.db, userId)
  if (!user) throw new ApiError('not_found')
  return user
}

/**
 * Changes the caller's profile. A new email needs the current password (a stolen session alone
 * must not move the account to another mailbox) and only takes effect when the mail sent to the
 * new address is confirmed (POST /v1/auth/verify-email).
 */
export async function updateMe (
  deps: AccountDeps,
  userId: string,
  body: UpdateMeBody,
  request: RequestInfo & { tokenId: string }
): Promise<UserRow> {
  const current = await getUser(deps, userId)
  const newEmail = await emailChangeToStart(deps, current, body, request)
  if (body.username === undefined && newEmail === null) return current
  try {
    return await deps.database.db.transaction(async (tx) => {
      let user = current
      if (body.username !== undefined) user = await changeUsername(deps, tx, user, body.username, request)
      if (newEmail !== null) await startEmailChange(deps, tx, user, newEmail, request)
      return user
    })
  } catch (error) {
    throw conflictError(error) ?? error
  }
}

/** The address to change to, after the checks that need no transaction; null when there is none. */
async function emailChangeToStart (
  deps: AccountDeps,
  user: UserRow,
  body: UpdateMeBody,
  request: RequestInfo & { tokenId: string }
): Promise<string | null> {
  if (body.email === undefined && body.currentPassword === undefined) return null
  if (body.email === undefined || body.currentPassword === undefined) {
    const missing = body.email === undefined ? '/email' : '/currentPassword'
    throw new ApiError('validation_failed', {
      message: 'An email change needs both email and currentPassword.',
      details: [{ path: missing, message: 'email and currentPassword go together' }],
    })
  }
  const guess = await beginPasswordGuess(deps, user.id, 'email_change', request)
  const currentOk = await guess.verify(user.passwordHash, body.currentPassword)
  await guess.settle()
  if (!currentOk) {
    // API.md: invalid_credentials is a 403 when it guards a change, not a login
    throw new ApiError('invalid_credentials', { statusCode: 403, message: 'The current password is wrong.' })
  }
  if (body.email.toLowerCase() === user.email.toLowerCase()) return null
  const owner = await repo.findUserByLogin(deps.database.db, { email: body.email })
  if (owner) throw new ApiError('email_taken')
  return body.email
}

async function changeUsername (
  deps: AccountDeps,
  tx: Tx,
  user: UserRow,
  username: string,
  request: RequestInfo & { tokenId: string }
): Promise<UserRow> {
  const updated = await repo.updateUser(tx, user.id, { username }, deps.now())
  if (!updated) throw new ApiError('not_found')
  await recordEvent(tx, { type: 'user.updated', userId: user.id, ...request, data: { fields: ['username'] } })
  return updated
}

async function startEmailChange (
  deps: AccountDeps,
  tx: Tx,
  user: UserRow,
  newEmail: string,
  request: RequestInfo & { tokenId: string }
) {
  await sendEmailChangeMail(deps, tx, user, newEmail)
  // the old address hears of it now, while a password reset can still cancel the change
  await enqueueMail(tx, deps.config, emailChangeRequestedNotice(user, newEmail))
  await recordEvent(tx, {
    type: 'email.change_requested',
    userId: user.id,
    ...request,
    data: { email: newEmail, previousEmail: user.email },
  })
}
/**
 * Changes the password, revokes every other token of the user (the presenting one survives) and
 * retires every unused mailed token.
 * The current password is checked under the user's row lock, so of two concurrent changes made
 * with the same current password exactly one succeeds; the other gets 403 invalid_credentials.
 */
export async function changePassword (
  deps: AccountDeps,
  userId: string,
  body: ChangePasswordBody,
  request: RequestInfo & { tokenId: string }
): Promise<void> {
  const guess = await beginPasswordGuess(deps, userId, 'password_change', request)
  const changed = deps.database.db.transaction(async (tx) => {
    const user = await repo.lockUserById(tx, userId)
    if (!user) throw new ApiError('not_found')
    const currentOk = await guess.verify(user.passwordHash, body.currentPassword)
    // API.md: 403, not 401, since the caller's token is fine and must not be discarded by clients
    if (!currentOk) throw new ApiError('invalid_credentials', { statusCode: 403 })
    assertPasswordAllowed(body.newPassword, user, 'newPassword')
    const now = deps.now()
    await repo.updateUser(tx, userId, { passwordHash: await deps.passwords.hash(body.newPassword) }, now)
    const revoked = await revokeAllUserTokens(tx, userId, now, request.tokenId)
    // no mailed token outlives the password it was issued under (API.md, Mail)
    await retireUserOneTimeTokens(tx, userId, now)
    await recordEvent(tx, { type: 'password.changed', userId, ...request, data: { revokedTokens: revoked } })
    await enqueueMail(tx, deps.config, passwordChangedNotice(user))
  })
  await changed.finally(() => guess.settle())
}

/**
 * API.md Rate limits: a currentPassword guess is a login of the account. It spends the account's
 * failure budget before the check (429 past it, like a login); `settle` then uncounts a right
 * guess or records a wrong one as login.failed. `settle` runs after any transaction the check is
 * in, since a wrong guess rolls that back and its event must stay (the counters are not in it).
 */
async function beginPasswordGuess (
  deps: AccountDeps,
  userId: string,
  reason: 'password_change' | 'email_change',
  request: RequestInfo & { tokenId: string }
) {
  const notAFailure = await deps.loginThrottle?.begin({ userId })
  let verdict: boolean | undefined
  return {
    async verify (passwordHash: string, password: string) {
      verdict = await deps.passwords.verify(passwordHash, password)
      return verdict
    },
    async settle () {
      if (verdict === true) await notAFailure?.()
      if (verdict === false) {
        await recordEvent(deps.database.db, { type: 'login.failed', userId, ...request, data: { reason } })
      }
    },
  }
}
