import { type AnyColumn, type SQL, sql as dsql } from 'drizzle-orm'
import { Type } from 'typebox'
import { ApiError } from './errors.js'

/**
 * Keyset pagination of the newest-first listings (events, admin users): the one cursor format.
 * A position is created_at with its microseconds, as text (a JavaScript Date keeps only
 * milliseconds, and a truncated position would hand a row out twice or skip one), with the id as
 * the tie-break.
 */
export interface KeysetPosition {
  createdAt: string
  id: string
}

/** The query parameters of a paged listing. */
export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9_-]+$' })),
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
// what `positionOf` writes (UTC, ISO 8601, microseconds); `created_at::text` (a space and an
// offset) is what the admin listing's cursors held before, and a client paging across an
// upgrade may still send one: PostgreSQL reads both
const CURSOR_TIME = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d(:\d\d)?)$/

/** Opaque to clients: base64url of `<created_at>|<id>`. */
export function encodeCursor (position: KeysetPosition): string {
  return Buffer.from(`${position.createdAt}|${position.id}`).toString('base64url')
}

/** The position a cursor names; one this server could not have issued is a 400 on `cursor`. */
export function decodeCursor (cursor: string): KeysetPosition {
  const [createdAt = '', id = '', ...rest] = Buffer.from(cursor, 'base64url').toString().split('|')
  if (rest.length > 0 || !CURSOR_TIME.test(createdAt) || !UUID.test(id)) {
    throw new ApiError('validation_failed', {
      message: 'querystring/cursor is not a cursor this server gave out',
      details: [{ path: '/cursor', message: 'is not a valid cursor' }],
    })
  }
  return { createdAt, id }
}

/** A row's position, selected alongside it. */
export function positionOf (createdAt: AnyColumn): SQL<string> {
  return dsql<string>`to_char(${createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
}

/** Rows strictly after `position` in the order (created_at desc, id desc). */
export function olderThan (createdAt: AnyColumn, id: AnyColumn, position: KeysetPosition): SQL {
  return dsql`(${createdAt}, ${id}) < (${position.createdAt}::timestamptz, ${position.id}::uuid)`
}

export interface KeysetPage<T> {
  items: T[]
  nextCursor: string | null
}

/**
 * One page: `fetch` reads up to `limit` rows after `before`, newest first, each with its
 * position's created_at. It is asked for one row more than the page holds: whether that row
 * exists says if there is a next page.
 */
export async function keysetPage<T extends { id: string }> (
  input: { limit: number; cursor?: string | undefined },
  fetch: (page: { limit: number; before: KeysetPosition | null }) => Promise<{ row: T; createdAt: string }[]>
): Promise<KeysetPage<T>> {
  const rows = await fetch({
    limit: input.limit + 1,
    before: input.cursor === undefined ? null : decodeCursor(input.cursor),
  })
  const page = rows.slice(0, input.limit)
  const last = page.at(-1)
  return {
    items: page.map(({ row }) => row),
    nextCursor: rows.length > input.limit && last ? encodeCursor({ createdAt: last.createdAt, id: last.row.id }) : null,
  }
}
