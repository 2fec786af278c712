import { randomBytes } from 'node:crypto'
import type { Sql } from '../src/db/client.js'
import { createScopeCatalog } from '../src/tokens/scopes.js'
import { mintToken } from '../src/tokens/token-format.js'

export interface SeedOptions {
  users: number
  tokensPerUser: number
  /** Share of the seeded rows left active (the rest are revoked history, as in production). */
  activeFraction?: number
  /** Also give each user one real session token (returned) whose secret authenticates. */
  realTokens?: boolean
}

export interface SeededUser {
  userId: string
  /** A working bearer token, when `realTokens` was asked for. */
  token?: string
}

const DAY = "interval '1 day'"

/**
 * Bulk-inserts users and auth_tokens rows with generate_series, all inside PostgreSQL: a million
 * rows take seconds. Seeded digests are SHA-256 of an arbitrary string (unique, never a real
 * token); only the optional real tokens can authenticate. The password hash is a placeholder:
 * seeded users cannot log in.
 */
export async function seedTokens (sql: Sql, options: SeedOptions): Promise<SeededUser[]> {
  const run = randomBytes(4).toString('hex')
  const activeEvery = Math.max(1, Math.round(1 / (options.activeFraction ?? 0.1)))
  const users = await sql<{ id: string }[]>`
    insert into users (email, username, password_hash)
    select 'seed-' || ${run} || '-' || g || '@example.com', 'seed_' || ${run} || '_' || g, 'seeded-no-login'
    from generate_series(1, ${options.users}::int) g
    returning id`
  const userIds = users.map((u) => u.id)
  await sql`
    insert into auth_tokens (user_id, token_hash, kind, name, scopes, created_at, expires_at, revoked, revoked_at)
    select u.id,
           sha256(convert_to(${run} || u.id::text || ':' || g, 'UTF8')),
           'session', 'seeded', ${sql.array([...createScopeCatalog({}).forRole('user')])}::text[],
           now() - g * interval '1 minute',
           now() + ${sql.unsafe(DAY)} * 7,
           g % ${activeEvery}::int <> 0,
           case when g % ${activeEvery}::int <> 0 then now() - ${sql.unsafe(DAY)} else null end
    from unnest(${sql.array(userIds)}::uuid[]) as u(id)
    cross join generate_series(1, ${options.tokensPerUser}::int) g`
  if (!options.realTokens) return userIds.map((userId) => ({ userId }))

  const minted = userIds.map((userId) => ({ userId, ...mintToken('session') }))
  await sql`
    insert into auth_tokens (user_id, token_hash, kind, name, scopes, expires_at)
    select id, hash, 'session', 'bench', ${sql.array([...createScopeCatalog({}).forRole('user')])}::text[], now() + ${sql.unsafe(DAY)} * 7
    from unnest(${sql.array(minted.map((m) => m.userId))}::uuid[],
                ${sql.array(minted.map((m) => `\\x${m.digest.toString('hex')}`))}::bytea[]) as t(id, hash)`
  return minted.map((m) => ({ userId: m.userId, token: m.secret }))
}
