import { and, desc, sql as dsql, eq, gt, inArray, isNull, or } from 'drizzle-orm'
import type { DbOrTx, Sql } from '../db/client.js'
import { authTokens } from '../db/schema.js'
import type { Role } from './scopes.js'

/** What authentication needs, fetched with one query: the token joined with its user. */
export interface TokenForAuth {
  id: string
  userId: string
  kind: string
  scopes: string[]
  expiresAt: Date | null
  revoked: boolean
  lastUsedAt: Date | null
  role: Role
  disabled: boolean
}

type RawTokenForAuth = Omit<TokenForAuth, 'expiresAt' | 'lastUsedAt'> & {
  expiresAt: Date | string | null
  lastUsedAt: Date | string | null
}

/**
 * The hot path: one prepared statement by digest. Raw postgres.js rather than the query
 * builder, because this runs on every authenticated request.
 */
export async function findTokenForAuth(sql: Sql, digest: Buffer): Promise<TokenForAuth | undefined> {
  const rows = await sql<RawTokenForAuth[]>`
    select t.id, t.user_id as "userId", t.kind, t.scopes, t.expires_at as "expiresAt", t.revoked,
           t.last_used_at as "lastUsedAt", u.role, u.disabled
    from auth_tokens t join users u on u.id = t.user_id
    where t.token_hash = ${digest}`
  const row = rows[0]
  if (!row) return undefined
  // drizzle() installs pass-through parsers for timestamp types on the shared postgres.js client
  // (it converts them itself), so raw queries get strings: convert, or expiry is never enforced
  return { ...row, expiresAt: toDate(row.expiresAt), lastUsedAt: toDate(row.lastUsedAt) }
}

const toDate = (value: Date | string | null): Date | null =>
  value === null || value instanceof Date ? value : new Date(value)

export interface NewTokenRow {
  userId: string
  tokenHash: Buffer
  kind: 'session' | 'personal'
  name: string
  scopes: string[]
  expiresAt: Date | null
  userAgent: string | null
  lastUsedIp: string | null
}

export async function insertToken(db: DbOrTx, row: NewTokenRow) {
  const [inserted] = await db.insert(authTokens).values(row).returning()
  if (!inserted) throw new Error('insert into auth_tokens returned no row')
  return inserted
}

const active = (now: Date) =>
  and(eq(authTokens.revoked, false), or(isNull(authTokens.expiresAt), gt(authTokens.expiresAt, now)))

export function listActiveTokens(db: DbOrTx, userId: string, now: Date) {
  return db
    .select()
    .from(authTokens)
    .where(and(eq(authTokens.userId, userId), active(now)))
    .orderBy(desc(authTokens.createdAt), desc(authTokens.id))
}

/** Active tokens of one kind, oldest first, locked so that concurrent logins see one another's count. */
export function lockActiveTokens(tx: DbOrTx, userId: string, now: Date) {
  return tx
    .select({ id: authTokens.id, kind: authTokens.kind })
    .from(authTokens)
    .where(and(eq(authTokens.userId, userId), active(now)))
    .orderBy(authTokens.createdAt, authTokens.id)
    .for('update')
}

export async function revokeTokensByIds(db: DbOrTx, ids: string[], now: Date): Promise<number> {
  if (ids.length === 0) return 0
  const rows = await db
    .update(authTokens)
    .set({ revoked: true, revokedAt: now })
    .where(and(inArray(authTokens.id, ids), eq(authTokens.revoked, false)))
    .returning({ id: authTokens.id })
  return rows.length
}

/** Revokes one token if it belongs to the user; returns whether the user owns such a token. */
export async function revokeUserToken(
  db: DbOrTx,
  userId: string,
  tokenId: string,
  now: Date,
): Promise<boolean> {
  const rows = await db
    .update(authTokens)
    .set({ revoked: true, revokedAt: dsql`coalesce(${authTokens.revokedAt}, ${now})` })
    .where(and(eq(authTokens.id, tokenId), eq(authTokens.userId, userId)))
    .returning({ id: authTokens.id })
  return rows.length > 0
}

export async function revokeAllUserTokens(
  db: DbOrTx,
  userId: string,
  now: Date,
  exceptTokenId?: string,
): Promise<number> {
  const conditions = [eq(authTokens.userId, userId), eq(authTokens.revoked, false)]
  if (exceptTokenId) conditions.push(dsql`${authTokens.id} <> ${exceptTokenId}`)
  const rows = await db
    .update(authTokens)
    .set({ revoked: true, revokedAt: now })
    .where(and(...conditions))
    .returning({ id: authTokens.id })
  return rows.length
}

export async function revokeTokenByDigest(db: DbOrTx, digest: Buffer, now: Date) {
  const rows = await db
    .update(authTokens)
    .set({ revoked: true, revokedAt: now })
    .where(and(eq(authTokens.tokenHash, digest), eq(authTokens.revoked, false)))
    .returning({ id: authTokens.id, userId: authTokens.userId })
  return rows[0]
}

export interface LastUse {
  tokenId: string
  at: Date
  ip: string | null
}

/** One UPDATE for a whole batch of coalesced last-use records. */
export async function recordLastUses(sql: Sql, uses: LastUse[]): Promise<void> {
  if (uses.length === 0) return
  await sql`
    update auth_tokens t
    set last_used_at = u.at, last_used_ip = nullif(u.ip, '')
    from (select unnest(${sql.array(uses.map((u) => u.tokenId))}::uuid[]) as id,
                 unnest(${sql.array(uses.map((u) => u.at.toISOString()))}::timestamptz[]) as at,
                 unnest(${sql.array(uses.map((u) => u.ip ?? ''))}::text[]) as ip) u
    where t.id = u.id and (t.last_used_at is null or t.last_used_at < u.at)`
}

/** Deletes tokens that expired or were revoked before `cutoff`; returns how many. */
export async function pruneTokens(db: DbOrTx, cutoff: Date): Promise<number> {
  const rows = await db
    .delete(authTokens)
    .where(
      or(
        and(eq(authTokens.revoked, true), dsql`${authTokens.revokedAt} < ${cutoff}`),
        dsql`${authTokens.expiresAt} < ${cutoff}`,
      ),
    )
    .returning({ id: authTokens.id })
  return rows.length
}
