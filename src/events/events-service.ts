import type { SecurityEventRow } from '../db/schema.js'
import type { Deps } from '../deps.js'
import { keysetPage } from '../pagination.js'
import { deleteEventsBefore, listEvents } from './events-repository.js'
import type { EventPage, SecurityEvent } from './events-schemas.js'

export function toEvent (row: SecurityEventRow): SecurityEvent {
  return {
    id: row.id,
    type: row.type,
    userId: row.userId,
    tokenId: row.tokenId,
    ip: row.ip,
    userAgent: row.userAgent,
    createdAt: row.createdAt.toISOString(),
    data: row.data,
  }
}

/** A page of events, newest first, and the cursor of the next page (null on the last). */
export async function listEventPage (
  deps: Deps,
  filter: { userId?: string | undefined; type?: string | undefined; limit: number; cursor?: string | undefined }
): Promise<EventPage> {
  const { items, nextCursor } = await keysetPage(filter, (page) =>
    listEvents(deps.database.db, { userId: filter.userId, type: filter.type, ...page })
  )
  return { events: items.map(toEvent), nextCursor }
}

/**
 * Retention: deletes events older than `retentionDays` before `now` (EVENT_RETENTION_DAYS).
 * Returns how many went. For the cleanup job and the CLI.
 */
export async function pruneEvents (deps: Deps, retentionDays: number): Promise<number> {
  return deleteEventsBefore(deps.database.db, new Date(deps.now().getTime() - retentionDays * 86_400_000))
}
