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
    // Not max_pipeline 1 (nor 0): postgres.js reserves a connection for sql.begin() only when the
    // BEGIN goes out while the pipeline has room (connection.js execute(): `sent.length <
    // max_pipeline && onexecute()`). With 1, a BEGIN handed to a busy connection under load is
    // never reserved and fails with UNSAFE_TRANSACTION (a 500; tests/tokens/races.test.ts).
    // The default (100) leaves that room in practice.
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
