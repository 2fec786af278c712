import { and, sql as dsql, eq, gt, inArray, isNull } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { type OneTimeTokenRow, oneTimeTokens, type UserRow, users } from '../db/schema.js'
import { USER_ROW_LOCK } from '../users/users-repository.js'

export type OneTimePurpose = OneTimeTokenRow['purpose']

export interface NewOneTimeToken {
  userId: string
  purpose: OneTimePurpose
  tokenHash: Buffer
  email: string
  expiresAt: Date
}

/**
 * Stores a new token and retires the user's unused ones of the same purpose, so only the newest
 * mail works.
 */
export async function replaceOneTimeToken (db: DbOrTx, token: NewOneTimeToken, now: Date): Promise<void> {
  await db
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(oneTimeTokens.userId, token.userId),
        eq(oneTimeTokens.purpose, token.purpose),
        isNull(oneTimeTokens.usedAt)
      )
    )
  await db.insert(oneTimeTokens).values(token)
}

/**
 * Retires every unused token of the user, whatever its purpose: a password change or reset, or
 * disabling the account, leaves no mail that can still verify, reset or move the account.
 */
export async function retireUserOneTimeTokens (db: DbOrTx, userId: string, now: Date): Promise<void> {
  await db
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(and(eq(oneTimeTokens.userId, userId), isNull(oneTimeTokens.usedAt)))
}

/**
 * The owner of a token, locked like lockUserById (USER_ROW_LOCK), before the token's own row is touched: the
 * changes that retire a user's tokens (password change, reset, disabling) lock the user first,
 * so taking the locks in the same order here cannot deadlock with them, and the owner read is
 * the one those changes leave behind.
 */
export async function lockOneTimeTokenOwner (db: DbOrTx, tokenHash: Buffer): Promise<UserRow | undefined> {
  const [row] = await db
    .select({ user: users })
    .from(oneTimeTokens)
    .innerJoin(users, eq(users.id, oneTimeTokens.userId))
    .where(eq(oneTimeTokens.tokenHash, tokenHash))
    .for(USER_ROW_LOCK, { of: users })
  return row?.user
}

/**
 * Marks a token used and returns it, in one statement: of two concurrent uses, the second waits
 * on the row lock, then finds `used_at` set and gets nothing, so a token works exactly once.
 */
export async function consumeOneTimeToken (
  db: DbOrTx,
  tokenHash: Buffer,
  purposes: readonly OneTimePurpose[],
  now: Date
): Promise<OneTimeTokenRow | undefined> {
  const [row] = await db
    .update(oneTimeTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(oneTimeTokens.tokenHash, tokenHash),
        inArray(oneTimeTokens.purpose, [...purposes]),
        isNull(oneTimeTokens.usedAt),
        gt(oneTimeTokens.expiresAt, now)
      )
    )
    .returning()
  return row
}

export interface PasswordResetByEmail {
  email: string
  tokenHash: Buffer
  expiresAt: Date
  now: Date
}

/**
 * A password reset keyed by an address that may match no account. One statement does the same
 * work either way (look the user up, retire old tokens, insert the token, each for zero or one
 * user), so neither the answer nor its timing tells whether the account exists; the mail is
 * queued likewise (enqueueMail's `onlyToAccount`). Returns the user's id, or null when there is
 * no such account.
 */
export async function issuePasswordResetByEmail (
  db: DbOrTx,
  reset: PasswordResetByEmail
): Promise<string | null> {
  // raw SQL through drizzle's postgres.js driver takes no Date parameters: pass ISO text and cast
  const rows = await db.execute<{ user_id: string }>(dsql`
    with target as (
      -- a disabled account gets no reset mail: its token could not be used (useOneTimeToken)
      select id, email from users where email = ${reset.email} and not disabled
    ), retired as (
      update one_time_tokens set used_at = ${reset.now.toISOString()}::timestamptz
      where user_id in (select id from target) and purpose = 'password_reset' and used_at is null
    )
    insert into one_time_tokens (user_id, purpose, token_hash, email, expires_at)
    select id, 'password_reset', ${reset.tokenHash}, email, ${reset.expiresAt.toISOString()}::timestamptz from target
    returning user_id`)
  return rows[0]?.user_id ?? null
}
