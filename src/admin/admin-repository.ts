import { and, desc, sql as dsql, or } from 'drizzle-orm'
import type { DbOrTx } from '../db/client.js'
import { users } from '../db/schema.js'

/** A position in the newest-first listing: created_at as PostgreSQL prints it (microseconds kept). */
export interface UserPosition {
  createdAt: string
  id: string
}

export interface ListUsersQuery {
  limit: number
  after: UserPosition | null
  search: string | null
}

// LIKE's metacharacters in a search string match themselves
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`)

/**
 * Newest first with id as the tie-break, a stable order for keyset pagination. The position is
 * kept as text because a JavaScript Date would drop created_at's microseconds and skip rows.
 */
export async function listUsers (db: DbOrTx, query: ListUsersQuery) {
  const conditions = []
  if (query.after) {
    conditions.push(
      dsql`(${users.createdAt}, ${users.id}) < (${query.after.createdAt}::timestamptz, ${query.after.id}::uuid)`
    )
  }
  if (query.search) {
    const pattern = `%${escapeLike(query.search)}%`
    conditions.push(or(dsql`${users.email} ilike ${pattern}`, dsql`${users.username} ilike ${pattern}`))
  }
  return db
    .select({ user: users, position: dsql<string>`${users.createdAt}::text` })
    .from(users)
    .where(and(...conditions))
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(query.limit)
}
