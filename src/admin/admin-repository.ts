import { and, desc, sql as dsql, or } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { users } from '../db/schema.js'
import { type KeysetPosition, olderThan, positionOf } from '../pagination.js'

export interface ListUsersQuery {
  limit: number
  before: KeysetPosition | null
  search: string | null
}

// LIKE's metacharacters in a search string match themselves
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/** Newest first with id as the tie-break, a stable order for keyset pagination. */
export async function listUsers (db: DbOrTx, query: ListUsersQuery) {
  const conditions = []
  if (query.before) conditions.push(olderThan(users.createdAt, users.id, query.before))
  if (query.search) {
    const pattern = `%${escapeLike(query.search)}%`
    conditions.push(or(dsql`${users.email} ilike ${pattern}`, dsql`${users.username} ilike ${pattern}`))
  }
  return db
    .select({ row: users, createdAt: positionOf(users.createdAt) })
    .from(users)
    .where(and(...conditions))
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(query.limit)
}
