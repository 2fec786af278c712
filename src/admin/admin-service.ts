import type { Database, DbOrTx } from '../db/client.js'
import type { UserRow } from '../db/schema.js'
import { ApiError } from '../errors.js'
import { retireUserOneTimeTokens } from '../accounts/accounts-repository.js'
import { ADMIN_ONLY_SCOPES, type Role } from '../tokens/scopes.js'
import { revokeAllUserTokens, stripUserTokenScopes } from '../tokens/tokens-repository.js'
import { findUserById, findUserByLogin, lockUserById, updateUser } from '../users/users-repository.js'
import { toUser } from '../users/users-service.js'
import { type Actor, recordAdminEvent } from './actor.js'
import * as repo from './admin-repository.js'
import type { AdminUser } from './admin-schemas.js'

export interface AdminDeps {
  database: Database
  now: () => Date
}

export function toAdminUser (row: UserRow): AdminUser {
  return { ...toUser(row), disabled: row.disabled }
}

export async function requireUser (db: DbOrTx, userId: string): Promise<UserRow> {
  const user = await findUserById(db, userId)
  if (!user) throw new ApiError('not_found', { message: 'No such user.' })
  return user
}

/** The CLI names users as people do: an email (it has an @, which usernames cannot) or a username. */
export async function findUserByName (deps: AdminDeps, name: string): Promise<UserRow> {
  const login = name.includes('@') ? { email: name } : { username: name }
  const user = await findUserByLogin(deps.database.db, login)
  if (!user) throw new ApiError('not_found', { message: `No user with the username or email "${name}".` })
  return user
}

// the cursor is opaque to clients: base64url of the last row's position
const CURSOR = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d(:\d\d)?)\|([0-9a-f-]{36})$/

function encodeCursor (position: repo.UserPosition): string {
  return Buffer.from(`${position.createdAt}|${position.id}`).toString('base64url')
}

function decodeCursor (cursor: string): repo.UserPosition {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString())
  if (!match?.[1] || !match[4]) {
    throw new ApiError('validation_failed', {
      message: 'querystring/cursor is not a cursor this server issued',
      details: [{ path: '/cursor', message: 'is not a valid cursor' }],
    })
  }
  return { createdAt: match[1], id: match[4] }
}

export interface ListUsersInput {
  limit: number
  cursor?: string | undefined
  q?: string | undefined
}

export async function listUsers (deps: AdminDeps, input: ListUsersInput) {
  // one row more than asked tells whether another page exists
  const rows = await repo.listUsers(deps.database.db, {
    limit: input.limit + 1,
    after: input.cursor ? decodeCursor(input.cursor) : null,
    search: input.q ?? null,
  })
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    users: page.map((row) => toAdminUser(row.user)),
    nextCursor:
      rows.length > input.limit && last ? encodeCursor({ createdAt: last.position, id: last.user.id }) : null,
  }
}

export interface UserChanges {
  role?: Role | undefined
  disabled?: boolean | undefined
}

/**
 * Changes a user's role or disabled flag. Disabling revokes every token and retires every unused
 * mailed token (a reset or email change must not outlive the account's disabling) in the same
 * transaction; demoting strips the admin-only scopes from the user's tokens, so a later
 * re-promotion does not revive them. An admin may not demote or disable themselves through the
 * API: that is the one change that could leave nobody able to administer (the CLI can still do it).
 */
export async function updateUserAsAdmin (
  deps: AdminDeps,
  actor: Actor,
  userId: string,
  changes: UserChanges
): Promise<UserRow> {
  const selfLockout = actor.userId === userId && (changes.role === 'user' || changes.disabled === true)
  if (selfLockout) {
    throw new ApiError('forbidden', { message: 'You cannot demote or disable your own account.' })
  }
  const now = deps.now()
  return deps.database.db.transaction(async (tx) => {
    // the lock of every change to the user's credentials and tokens; a FOR UPDATE would also block
    // the foreign-key check of a mailed token's insert, whose transaction may hold the rows this
    // one retires: a deadlock
    const current = await lockUserById(tx, userId)
    if (!current) throw new ApiError('not_found', { message: 'No such user.' })
    const fields = (['role', 'disabled'] as const).filter(
      (field) => changes[field] !== undefined && changes[field] !== current[field]
    )
    if (fields.length === 0) return current
    const updated = (await updateUser(tx, userId, pick(changes, fields), now)) as UserRow
    await recordAdminEvent(tx, actor, { type: 'user.updated', userId, data: { ...pick(changes, fields) } })
    if (fields.includes('role') && changes.role === 'user') {
      await stripUserTokenScopes(tx, userId, ADMIN_ONLY_SCOPES)
    }
    if (changes.disabled === true) {
      await revokeAll(tx, actor, userId, now, 'disabled')
      await retireUserOneTimeTokens(tx, userId, now)
    }
    return updated
  })
}

function pick (changes: UserChanges, fields: readonly ('role' | 'disabled')[]) {
  return Object.fromEntries(fields.map((field) => [field, changes[field]])) as UserChanges
}

async function revokeAll (tx: DbOrTx, actor: Actor, userId: string, now: Date, reason: string) {
  const count = await revokeAllUserTokens(tx, userId, now)
  if (count > 0) {
    await recordAdminEvent(tx, actor, { type: 'token.revoked', userId, data: { all: true, count, reason } })
  }
  return count
}

/** Revokes every token of a user (a compromised account); returns how many were active. */
export async function revokeAllTokensAsAdmin (deps: AdminDeps, actor: Actor, userId: string): Promise<number> {
  const now = deps.now()
  return deps.database.db.transaction(async (tx) => {
    await requireUser(tx, userId)
    return revokeAll(tx, actor, userId, now, 'admin')
  })
}
