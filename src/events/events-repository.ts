import { and, desc, sql as dsql, eq, lt } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { securityEvents } from '../db/schema.js'
import { type KeysetPosition, olderThan, positionOf } from '../pagination.js'

export const EVENT_TYPES = [
  'user.registered',
  'login.succeeded',
  'login.failed',
  'logout',
  'token.created',
  'token.revoked',
  'password.changed',
  'password.reset',
  'email.verified',
  'email.change_requested',
  'user.updated',
  'rate_limit.changed',
  'mail.suppressed',
] as const
export type EventType = (typeof EVENT_TYPES)[number]

export interface NewEvent {
  type: EventType
  userId: string | null
  tokenId?: string | null
  ip?: string | null
  userAgent?: string | null
  data?: Record<string, unknown>
}

/** Written in the caller's transaction, so an event exists exactly when its change does. */
export async function recordEvent (db: DbOrTx, event: NewEvent): Promise<void> {
  await db.insert(securityEvents).values({
    type: event.type,
    userId: event.userId,
    tokenId: event.tokenId ?? null,
    ip: event.ip ?? null,
    userAgent: event.userAgent ?? null,
    data: event.data ?? {},
  })
}

/**
 * Records the event for the account whose address is `email`, if there is one: a single statement
 * doing the same work either way, for paths that must not tell whether an account exists.
 */
export async function recordEventForAddress (
  db: DbOrTx,
  email: string,
  event: Pick<NewEvent, 'type' | 'data'>
): Promise<void> {
  await db.execute(dsql`
    insert into security_events (type, user_id, data)
    select ${event.type}, id, ${JSON.stringify(event.data ?? {})}::text::jsonb from users where email = ${email}`)
}

export interface EventQuery {
  userId?: string | undefined
  type?: string | undefined
  before: KeysetPosition | null
  limit: number
}

/** Events newest first, with id as the tie-break: a stable order for keyset pagination. */
export function listEvents (db: DbOrTx, query: EventQuery) {
  const conditions = [
    query.userId === undefined ? undefined : eq(securityEvents.userId, query.userId),
    query.type === undefined ? undefined : eq(securityEvents.type, query.type),
    query.before === null ? undefined : olderThan(securityEvents.createdAt, securityEvents.id, query.before),
  ]
  return db
    .select({ row: securityEvents, createdAt: positionOf(securityEvents.createdAt) })
    .from(securityEvents)
    .where(and(...conditions))
    .orderBy(desc(securityEvents.createdAt), desc(securityEvents.id))
    .limit(query.limit)
}

export async function deleteEventsBefore (db: DbOrTx, cutoff: Date): Promise<number> {
  const rows = await db
    .delete(securityEvents)
    .where(lt(securityEvents.createdAt, cutoff))
    .returning({ id: securityEvents.id })
  return rows.length
}
