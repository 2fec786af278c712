import type { Sql } from '../src/db/client.js'
import { mintToken } from '../src/tokens/token-format.js'

const SEED_USERS = 1_000
const BATCH = 100_000

/** Users that own the seeded tokens (a dummy hash: nobody logs in as them). */
export async function seedUsers (sql: Sql): Promise<void> {
  await sql`
    insert into users (email, username, password_hash)
    select 'seed' || g || '@bench.invalid', 'seed_' || g, 'not-a-hash'
    from generate_series(1, ${SEED_USERS}) g
    on conflict do nothing`
}

/** Adds session tokens (random digests, spread over the seed users) until auth_tokens holds `total` rows. */
export async function seedTokensUpTo (sql: Sql, total: number): Promise<number> {
  const [{ count } = { count: 0 }] = await sql<
    { count: number }[]
  >`select count(*)::int as count from auth_tokens`
  for (let done = count; done < total; done += BATCH) {
    const n = Math.min(BATCH, total - done)
    await sql`
      insert into auth_tokens (user_id, token_hash, kind, name, scopes, expires_at, created_at)
      select u.id, sha256(gen_random_uuid()::text::bytea), 'session', 'seed',
             array['profile:read','profile:write','tokens:read','tokens:write'],
             now() + interval '7 days', now() - (g || ' seconds')::interval
      from generate_series(1, ${n}) g
      join (select id, row_number() over () - 1 as i from users where email like '%@bench.invalid') u
        on u.i = g % ${SEED_USERS}`
  }
  await sql`analyze auth_tokens`
  const [{ count: after } = { count: 0 }] = await sql<
    { count: number }[]
  >`select count(*)::int as count from auth_tokens`
  return after
}

/** A real user with a real session token: the one the load generator presents. */
export async function createBenchToken (sql: Sql): Promise<string> {
  const [user] = await sql<{ id: string }[]>`
    insert into users (email, username, password_hash) values ('bench@bench.invalid', 'bench', 'not-a-hash')
    on conflict (email) do update set email = excluded.email returning id`
  const { secret, digest } = mintToken('session')
  await sql`
    insert into auth_tokens (user_id, token_hash, kind, name, scopes, expires_at)
    values (${user?.id ?? ''}, ${digest}, 'session', 'bench', ${sql.array(['profile:read'])}, now() + interval '1 day')`
  return secret
}

/** An admin's personal token holding tokens:introspect alone: the resource server of the introspection bench. */
export async function createIntrospectionToken (sql: Sql): Promise<string> {
  const [admin] = await sql<{ id: string }[]>`
    insert into users (email, username, password_hash, role) values ('service@bench.invalid', 'bench_service', 'not-a-hash', 'admin')
    on conflict (email) do update set email = excluded.email returning id`
  const { secret, digest } = mintToken('personal')
  await sql`
    insert into auth_tokens (user_id, token_hash, kind, name, scopes, expires_at)
    values (${admin?.id ?? ''}, ${digest}, 'personal', 'bench introspection', ${sql.array(['tokens:introspect'])}, now() + interval '1 day')`
  return secret
}
