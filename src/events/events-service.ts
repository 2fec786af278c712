import { type Database, type DbOrTx, dbOf } from '../db/client.js'
import type { SecurityEventRow } from '../db/schema.js'
import { ApiError } from '../errors.js'
import { deleteEventsBefore, listEvents } from './events-repository.js'
import type { EventPage, SecurityEvent } from './events-schemas.js'

export const DEFAULT_EVENT_PAGE_SIZE = 20

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

interface Position {
  createdAt: string
  id: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/

/** Opaque to clients: base64url of `<created_at with microseconds>|<id>`. */
function encodeCursor (position: Position): string {
  return Buffer.from(`${position.createdAt}|${position.id}`).toString('base64url')
}

function decodeCursor (cursor: string): Position {
  const [createdAt = '', id = '', ...rest] = Buffer.from(cursor, 'base64url').toString().split('|')
  if (rest.length > 0 || !CURSOR_TIME.test(createdAt) || !UUID.test(id)) {
    throw new ApiError('validation_failed', {
      message: 'querystring/cursor is not a cursor this server gave out',
      details: [{ path: '/cursor', message: 'is not a valid cursor' }],
    })
  }
  return { createdAt, id }
}

export interface EventFilter {
  userId?: string
  type?: string
  limit?: number
  cursor?: string
}

/** A page of events, newest first, and the cursor of the next page (null on the last). */
export async function listEventPage (database: Database, filter: EventFilter): Promise<EventPage> {
  const limit = filter.limit ?? DEFAULT_EVENT_PAGE_SIZE
  const rows = await listEvents(database.db, {
    ...(filter.userId === undefined ? {} : { userId: filter.userId }),
    ...(filter.type === undefined ? {} : { type: filter.type }),
    ...(filter.cursor === undefined ? {} : { before: decodeCursor(filter.cursor) }),
    // one more than asked: whether it exists says if there is a next page
    limit: limit + 1,
  })
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    events: page.map((row) => toEvent(row.event)),
    nextCursor:
      rows.length > limit && last ? encodeCursor({ createdAt: last.cursorAt, id: last.event.id }) : null,
  }
}

/**
 * Retention: deletes events older than `retentionDays` before `now` (EVENT_RETENTION_DAYS).
 * Returns how many went. For the cleanup job and the CLI.
 */
export async function pruneEvents (
  database: Database | DbOrTx,
  retentionDays: number,
  now: Date
): Promise<number> {
  return deleteEventsBefore(dbOf(database), new Date(now.getTime() - retentionDays * 86_400_000))
}
