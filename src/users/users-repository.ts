import { eq, sql } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { type UserRow, users } from '../db/schema.js'

/** PostgreSQL unique-violation (23505) on one of the users' unique constraints, or null. */
export function uniqueViolation (error: unknown): 'email' | 'username' | null {
  const cause = (error as { cause?: { code?: string; constraint_name?: string } })?.cause ?? error
  const { code, constraint_name: constraint } = cause as { code?: string; constraint_name?: string }
  if (code !== '23505') return null
  if (constraint === 'users_email_unique') return 'email'
  if (constraint === 'users_username_unique') return 'username'
  return null
}

export async function insertUser (
  db: DbOrTx,
  values: { email: string; username: string; passwordHash: string }
): Promise<UserRow> {
  const [row] = await db.insert(users).values(values).returning()
  if (!row) throw new Error('insert into users returned no row')
  return row
}

/** citext columns: `eq` is case-insensitive. */
export async function findUserByLogin (db: DbOrTx, login: { username?: string; email?: string }) {
  const condition =
    login.email !== undefined ? eq(users.email, login.email) : eq(users.username, login.username ?? '')
  const [row] = await db.select().from(users).where(condition).limit(1)
  return row
}

export interface LoginLookup {
  /** The account the name logs in to, if any. */
  user: UserRow | undefined
  /** The name as citext compares it (PostgreSQL's lower()): one value for every spelling that matches. */
  normalizedName: string
}

/**
 * The login lookup, with the name normalised by the database in the same query: JavaScript's
 * toLowerCase differs from PostgreSQL's lower() ('İ' becomes 'i̇' in one, 'i' in the other), and
 * a throttle key that splits what citext joins hands out fresh budgets. One query whether or not
 * the name exists, so the lookup takes the same time for both.
 */
export async function findLoginAccount (
  db: DbOrTx,
  login: { username?: string; email?: string }
): Promise<LoginLookup> {
  const name = login.email ?? login.username ?? ''
  const condition = login.email !== undefined ? eq(users.email, name) : eq(users.username, name)
  const [row] = await db
    .select({ normalizedName: sql<string>`lower(${name}::text)`, user: users })
    .from(sql`(select) as login`)
    .leftJoin(users, condition)
    .limit(1)
  if (!row) throw new Error('login lookup returned no row')
  return { user: row.user ?? undefined, normalizedName: row.normalizedName }
}

export async function findUserById (db: DbOrTx, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1)
  return row
}

export async function updateUser (
  db: DbOrTx,
  id: string,
  changes: Partial<
    Pick<UserRow, 'username' | 'email' | 'passwordHash' | 'role' | 'disabled' | 'emailVerifiedAt'>
  >,
  now: Date
): Promise<UserRow | undefined> {
  const [row] = await db
    .update(users)
    .set({ ...changes, updatedAt: now })
    .where(eq(users.id, id))
    .returning()
  return row
}

/**
 * The user row's one lock mode. NO KEY UPDATE, not UPDATE: it leaves the foreign-key checks of
 * inserts that reference the user (a token's, a mailed token's, an event's) free to proceed;
 * FOR UPDATE blocks them, and a transaction inserting a mailed token may hold the very rows a
 * disabling under this lock retires: a deadlock.
 */
export const USER_ROW_LOCK = 'no key update'

/**
 * Locks the user's row: the per-user mutex under which tokens are issued and mass-revoked
 * (login, personal tokens, logout-all, password change and reset, admin changes, the use of a
 * mailed token), so that each of these sees the others' committed effects.
 */
export async function lockUserById (tx: DbOrTx, id: string): Promise<UserRow | undefined> {
  const [row] = await tx.select().from(users).where(eq(users.id, id)).for(USER_ROW_LOCK)
  return row
}
