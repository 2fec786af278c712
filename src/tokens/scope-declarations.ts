import type { Sql } from '../db/client.js'
import { createScopeCatalog, type ScopeCatalog } from './scopes.js'

// one number for the start-up sync: instances starting together record their declarations in turn
const DECLARATIONS_LOCK = 7_391_020

/** When each application scope was last left out of the declaration (epoch milliseconds). */
async function readRetirements (sql: Sql): Promise<Map<string, number>> {
  const rows = await sql<{ name: string; retiredAtMs: number }[]>`
    select name, date_part('epoch', retired_at) * 1000 as "retiredAtMs"
    from scope_declarations where retired_at is not null`
  return new Map(rows.map((row) => [row.name, row.retiredAtMs]))
}

/**
 * Records this start's declaration: a scope declared before and missing now is retired (its
 * tokens stop holding it, and keep not holding it if it is declared again), and returns the app's
 * catalog. Called once at start, by the server (not by the CLI, whose environment may lack SCOPES).
 */
export async function declareScopes (sql: Sql, declared: Readonly<Record<string, string>>, now: Date): Promise<ScopeCatalog> {
  const names = Object.keys(declared)
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(${DECLARATIONS_LOCK})`
    await tx`update scope_declarations set declared = false, retired_at = ${now.toISOString()}::timestamptz
             where declared and not (name = any(${names}::text[]))`
    await tx`insert into scope_declarations (name, declared) select unnest(${names}::text[]), true
             on conflict (name) do update set declared = true`
  })
  return createScopeCatalog(declared, await readRetirements(sql))
}

/** The catalog as the last start declared it, without changing the declaration (the CLI). */
export async function readScopeCatalog (sql: Sql, declared: Readonly<Record<string, string>>): Promise<ScopeCatalog> {
  return createScopeCatalog(declared, await readRetirements(sql))
}
