import { retireUserOneTimeTokens } from '../accounts/accounts-repository.js'
import type { DbOrTx } from '../db/client.js'
import type { UserRow } from '../db/schema.js'
import type { Deps } from '../deps.js'
import { ApiError } from '../errors.js'
import { keysetPage } from '../pagination.js'
import { ADMIN_ONLY_SCOPES, type Role } from '../tokens/scopes.js'
import { revokeAllUserTokens, stripUserTokenScopes } from '../tokens/tokens-repository.js'
import { findUserById, findUserByLogin, lockUserById, updateUser } from '../users/users-repository.js'
import { toUser } from '../users/users-service.js'
import { type Actor, recordAdminEvent } from './actor.js'
import * as repo from './admin-repository.js'
import type { AdminUser } from './admin-schemas.js'

export function toAdminUser (row: UserRow): AdminUser {
  return { ...toUser(row), disabled: row.disabled }
}

export async function requireUser (db: DbOrTx, userId: string): Promise<UserRow> {
  const user = await findUserById(db, userId)
  if (!user) throw new ApiError('not_found', { message: 'No such user.' })
  return user
}

/** The CLI names users as people do: an email (it has an @, which usernames cannot) or a username. */
export async function findUserByName (deps: Deps, name: string): Promise<UserRow> {
  const login = name.includes('@') ? { email: name } : { username: name }
  const user = await findUserByLogin(deps.database.db, login)
  if (!user) throw new ApiError('not_found', { message: `No user with the username or email "${name}".` })
  return user
}

export interface ListUsersInput {
  limit: number
  cursor?: string | undefined
  q?: string | undefined
}

export async function listUsers (deps: Deps, input: ListUsersInput) {
  const { items, nextCursor } = await keysetPage(input, (page) =>
    repo.listUsers(deps.database.db, { ...page, search: input.q ?? null })
  )
  return { users: items.map(toAdminUser), nextCursor }
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
  deps: Deps,
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
export async function revokeAllTokensAsAdmin (deps: Deps, actor: Actor, userId: string): Promise<number> {
  const now = deps.now()
  return deps.database.db.transaction(async (tx) => {
    await requireUser(tx, userId)
    return revokeAll(tx, actor, userId, now, 'admin')
  })
}
