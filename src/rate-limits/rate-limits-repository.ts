import { sql as dsql, eq } from 'drizzle-orm'
import type { DbOrTx, Sql } from '../db/client.js'
import { rateLimitOverrides } from '../db/schema.js'

/** PostgreSQL channel on which every change to an override is announced to every instance. */
export const OVERRIDES_CHANNEL = 'tessera_rate_limit_overrides'

export interface Override {
  /** null: unlimited; 0: every request refused. */
  max: number | null
  windowSeconds: number
}

/** The hot path's only query for limits (once per user, then cached): raw postgres.js. */
export async function findOverride (sql: Sql, userId: string): Promise<Override | null> {
  const rows = await sql<Override[]>`
    select max, window_seconds as "windowSeconds" from rate_limit_overrides where user_id = ${userId}`
  return rows[0] ?? null
}

export async function upsertOverride (db: DbOrTx, userId: string, override: Override, now: Date) {
  // the row from named fields: whatever else the object carries is never written
  const set = { max: override.max, windowSeconds: override.windowSeconds, updatedAt: now }
  await db
    .insert(rateLimitOverrides)
    .values({ userId, ...set })
    .onConflictDoUpdate({ target: rateLimitOverrides.userId, set })
}

export async function deleteOverride (db: DbOrTx, userId: string): Promise<boolean> {
  const rows = await db
    .delete(rateLimitOverrides)
    .where(eq(rateLimitOverrides.userId, userId))
    .returning({ userId: rateLimitOverrides.userId })
  return rows.length > 0
}

export async function readOverride (db: DbOrTx, userId: string): Promise<Override | null> {
  const [row] = await db
    .select({ max: rateLimitOverrides.max, windowSeconds: rateLimitOverrides.windowSeconds })
    .from(rateLimitOverrides)
    .where(eq(rateLimitOverrides.userId, userId))
  return row ?? null
}

/**
 * NOTIFY inside the caller's transaction: PostgreSQL delivers it only at commit, so no instance
 * drops its cached entry before the change is visible (and none hears of a rolled-back one).
 */
export async function notifyOverrideChanged (db: DbOrTx, userId: string): Promise<void> {
  await db.execute(dsql`select pg_notify(${OVERRIDES_CHANNEL}, ${userId})`)
}
