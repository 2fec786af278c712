import type { DbOrTx } from '../db/client.js'
import { securityEvents } from '../db/schema.js'

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
export async function recordEvent(db: DbOrTx, event: NewEvent): Promise<void> {
  await db.insert(securityEvents).values({
    type: event.type,
    userId: event.userId,
    tokenId: event.tokenId ?? null,
    ip: event.ip ?? null,
    userAgent: event.userAgent ?? null,
    data: event.data ?? {},
  })
}
