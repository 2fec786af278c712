import { fileURLToPath } from 'node:url'
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import * as schema from './schema.js'

export type Db = PostgresJsDatabase<typeof schema>
/** A transaction handle; repositories take `Db | Tx` so services decide the boundary. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
export type DbOrTx = Db | Tx
export type Sql = postgres.Sql

export interface Database {
  db: Db
  sql: Sql
  close(): Promise<void>
}

/** Accepts the whole Database or a bare handle, for maintenance functions called from several places. */
export function dbOf(database: Database | DbOrTx): DbOrTx {
  return 'close' in database && 'sql' in database ? database.db : database
}

export interface CreateDbOptions {
  poolSize?: number
  /** Seconds to wait for a connection before failing, so an outage answers 503 quickly. */
  connectTimeoutSeconds?: number
}

export function createDb(url: string, options: CreateDbOptions = {}): Database {
  const sql = postgres(url, {
    max: options.poolSize ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 3,
    idle_timeout: 60,
    // default pipelining (100) was measured here decaying from ~20k to ~8k queries/s under
    // sustained saturation; a short pipeline holds steady (README, Benchmarks). Not 0: postgres.js
    // then never reserves the connection for sql.begin() and every transaction fails.
    max_pipeline: 1,
    onnotice: () => {},
    connection: { application_name: 'tessera' },
  } as postgres.Options<Record<string, never>>)
  const db = drizzle(sql, { schema })
  return { db, sql, close: () => sql.end({ timeout: 5 }) }
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))

// an arbitrary constant shared by every Tessera instance: the advisory lock serialises migrations
const MIGRATION_LOCK_ID = 7_391_001

/**
 * Applies pending migrations on a dedicated single connection holding a session-level advisory
 * lock, so instances starting together run them once, one after the other.
 */
export async function runMigrations(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    try {
      await migrate(drizzle(sql), { migrationsFolder: MIGRATIONS_FOLDER })
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
    }
  } finally {
    await sql.end({ timeout: 5 })
  }
}
