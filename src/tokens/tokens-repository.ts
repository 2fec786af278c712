import { and, desc, sql as dsql, eq, gt, inArray, isNull, lt, or } from 'drizzle-orm'
import type { DbOrTx, Sql } from '../db/client.js'
import { authTokens } from '../db/schema.js'
import type { Role } from './scopes.js'

/** What authentication needs, fetched with one query: the token joined with its user. */
export interface TokenForAuth {
  id: string
  userId: string
  username: string
  role: Role
  revoked: boolean
  /** The user's account is disabled (its tokens are revoked with it; this covers any race). */
  disabled: boolean
  /** When the token expires, in epoch milliseconds (PostgreSQL converts it); null: never. */
  expiresAtMs: number | null
  /** When it was issued, in epoch milliseconds (introspection's `iat`). */
  createdAtMs: number
  /** A personal token's stored scopes; null for a session token, which holds its role's. */
  scopes: string[] | null
  /** `admin` is among the stored scopes: what a session token keeps of it after a demotion. */
  holdsAdmin: boolean
  /** The token's own budget (both null: none), counted as well as its user's. */
  budgetMax: number | null
  budgetWindowSeconds: number | null
}

/**
 * The hot path: one prepared statement by digest, for every kind of token (the digest covers
 * the kind's prefix, so a row found is of the presented kind). Raw postgres.js rather than the
 * query builder, because this runs on every authenticated request; the row is returned as it
 * comes, with the expiry as a number (a float8 parses faster than a timestamp's text is turned
 * into a Date or a number).
 */
export function findTokenForAuth (sql: Sql, digest: Buffer) {
  return sql<TokenForAuth[]>`
    select t.id, t.user_id as "userId", u.username, u.role, t.revoked, u.disabled,
           date_part('epoch', t.expires_at) * 1000 as "expiresAtMs", date_part('epoch', t.created_at) * 1000 as "createdAtMs",
           -- a session's array is not sent: one boolean says all it holds (parsing it costs ~1 µs)
           case when t.kind = 'personal' then t.scopes end as scopes, 'admin' = any(t.scopes) as "holdsAdmin",
           t.rate_limit_max as "budgetMax", t.rate_limit_window_seconds as "budgetWindowSeconds"
    from auth_tokens t join users u on u.id = t.user_id
    where t.token_hash = ${digest}`
}

export interface NewTokenRow {
  userId: string
  tokenHash: Buffer
  kind: 'session' | 'personal'
  name: string
  scopes: string[]
  expiresAt: Date | null
  userAgent: string | null
  lastUsedIp: string | null
  /** A personal token's own budget; both unset: none. */
  rateLimitMax?: number
  rateLimitWindowSeconds?: number
}

export async function insertToken (db: DbOrTx, row: NewTokenRow) {
  const [inserted] = await db.insert(authTokens).values(row).returning()
  if (!inserted) throw new Error('insert into auth_tokens returned no row')
  return inserted
}

const active = (now: Date) =>
  and(eq(authTokens.revoked, false), or(isNull(authTokens.expiresAt), gt(authTokens.expiresAt, now)))

export function listActiveTokens (db: DbOrTx, userId: string, now: Date) {
  return db
    .select()
    .from(authTokens)
    .where(and(eq(authTokens.userId, userId), active(now)))
    .orderBy(desc(authTokens.createdAt), desc(authTokens.id))
}

/** Active tokens of one kind, oldest first, locked so that concurrent logins see one another's count. */
export function lockActiveTokens (tx: DbOrTx, userId: string, now: Date) {
  return tx
    .select({ id: authTokens.id, kind: authTokens.kind })
    .from(authTokens)
    .where(and(eq(authTokens.userId, userId), active(now)))
    .orderBy(authTokens.createdAt, authTokens.id)
    .for('update')
}

export async function revokeTokensByIds (db: DbOrTx, ids: string[], now: Date): Promise<number> {
  if (ids.length === 0) return 0
  const rows = await db
    .update(authTokens)
    .set({ revoked: true, revokedAt: now })
    .where(and(inArray(authTokens.id, ids), eq(authTokens.revoked, false)))
    .returning({ id: authTokens.id })
  return rows.length
}

export async function revokeAllUserTokens (
  db: DbOrTx,
  userId: string,
  now: Date,
  exceptTokenId?: string
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

/**
 * Takes `scopes` out of every token of the user (a demotion): narrowing by the role alone would
 * hand them back on a re-promotion. Returns how many tokens lost one.
 */
export async function stripUserTokenScopes (
  db: DbOrTx,
  userId: string,
  scopes: readonly string[]
): Promise<number> {
  // one array parameter (drizzle would spread a bare JS array into a list)
  const stripped = dsql.param([...scopes])
  const remaining = dsql`array(select s from unnest(${authTokens.scopes}) s where s <> all(${stripped}::text[]))`
  const rows = await db
    .update(authTokens)
    .set({ scopes: remaining })
    .where(and(eq(authTokens.userId, userId), dsql`${authTokens.scopes} && ${stripped}::text[]`))
    .returning({ id: authTokens.id })
  return rows.length
}

export async function revokeTokenByDigest (db: DbOrTx, digest: Buffer, now: Date) {
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

/**
 * One UPDATE for a whole batch of coalesced last-use records. A token whose stored last use is
 * under `precisionSeconds` old is left alone, so that however many instances see a busy token,
 * it is written at most once in that time (each instance also queues it at most that often).
 * Rows another transaction holds
 * (a revocation, logout-all) are skipped rather than waited for: the flusher then never takes part
 * in a lock wait, so it can neither deadlock with a multi-row revocation (Laravel Sanctum
 * issues #207, #574) nor delay one; a skipped record is at most a minute of lastUsedAt precision.
 */
export async function recordLastUses (sql: Sql, uses: LastUse[], precisionSeconds: number): Promise<void> {
  if (uses.length === 0) return
  await sql`
    with u as (
      select unnest(${sql.array(uses.map((u) => u.tokenId))}::uuid[]) as id,
             unnest(${sql.array(uses.map((u) => u.at.toISOString()))}::timestamptz[]) as at,
             unnest(${sql.array(uses.map((u) => u.ip ?? ''))}::text[]) as ip
    ), free as (
      select t.id from auth_tokens t join u on u.id = t.id
      where t.last_used_at is null or t.last_used_at <= u.at - make_interval(secs => ${precisionSeconds})
      for no key update of t skip locked
    )
    update auth_tokens t
    set last_used_at = u.at, last_used_ip = nullif(u.ip, '')
    from u
    where t.id = u.id and t.id in (select id from free)`
}

const prunable = (cutoff: Date) =>
  or(and(eq(authTokens.revoked, true), lt(authTokens.revokedAt, cutoff)), lt(authTokens.expiresAt, cutoff))

/**
 * The same, at most `batchSize` rows at a time: a large backlog is then pruned without one long
 * transaction holding many row locks.
 */
export async function pruneTokensBatch (db: DbOrTx, cutoff: Date, batchSize: number): Promise<number> {
  const doomed = db.select({ id: authTokens.id }).from(authTokens).where(prunable(cutoff)).limit(batchSize)
  const rows = await db
    .delete(authTokens)
    .where(inArray(authTokens.id, doomed))
    .returning({ id: authTokens.id })
  return rows.length
}

/** One of the user's tokens, locked, whether or not it is still active. */
export async function lockUserToken (tx: DbOrTx, userId: string, tokenId: string) {
  const [row] = await tx
    .select({ id: authTokens.id, revoked: authTokens.revoked })
    .from(authTokens)
    .where(and(eq(authTokens.id, tokenId), eq(authTokens.userId, userId)))
    .for('update')
  return row
}
