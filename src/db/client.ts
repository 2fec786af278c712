import { fileURLToPath } from 'node:url'
import { drizzle, type PostgresJsDatabase } from 'drizzle-orm/postgres-js'
import { migrate } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { makePostgresClassesFast } from './postgres-v8-workaround.js'
import * as schema from './schema.js'

export type Db = PostgresJsDatabase<typeof schema>
/** A transaction handle; repositories take `Db | Tx` so services decide the boundary. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0]
export type DbOrTx = Db | Tx
export type Sql = postgres.Sql

export interface Database {
  /** drizzle, for everything with a transaction or a query builder. */
  db: Db
  /** Raw postgres.js on its own pool, for single statements: the auth lookup, last-use batches, LISTEN. */
  sql: Sql
  close(): Promise<void>
}

/** Accepts the whole Database or a bare handle, for maintenance functions called from several places. */
export function dbOf (database: Database | DbOrTx): DbOrTx {
  return 'close' in database && 'sql' in database ? database.db : database
}

export interface CreateDbOptions {
  poolSize?: number
  /** Seconds to wait for a connection before failing, so an outage answers 503 quickly. */
  connectTimeoutSeconds?: number
}

/**
 * Two pools, because postgres.js's pipelining forces a trade-off:
 * - With the default pipeline (100 queries per connection), a saturated pool slows down over
 *   time: its `busy` connection queue never empties, so the array behind it keeps growing and
 *   `Queue.remove` (an indexOf) costs more on every query (from ~20k to ~8k queries/s over a
 *   30 s soak).
 * - With a short pipeline (`max_pipeline: 1`) throughput holds, but `sql.begin()` reserves its
 *   connection only if the BEGIN goes out while the pipeline has room: a transaction handed to
 *   a busy connection fails with UNSAFE_TRANSACTION (connection.js execute()).
 * So the hot path's single statements use a short-pipeline pool (`sql`) and transactions use a
 * default one under drizzle (`db`).
 */
export function createDb (url: string, options: CreateDbOptions = {}): Database {
  const common = {
    max: options.poolSize ?? 10,
    connect_timeout: options.connectTimeoutSeconds ?? 3,
    idle_timeout: 60,
    onnotice: () => {},
    // PostgreSQL's ISO output, whatever the server's default: timestamps are parsed from it
    connection: { application_name: 'tessera', DateStyle: 'ISO, MDY' },
  }
  const sql = postgres(url, { ...common, max_pipeline: 1 } as postgres.Options<Record<string, never>>)
  passDatesThrough(sql)
  makePostgresClassesFast(sql)
  const transactional = postgres(url, common)
  const db = drizzle(transactional, { schema })
  return {
    db,
    sql,
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), transactional.end({ timeout: 5 })])
    },
  }
}

// the OIDs drizzle's postgres-js driver hands through untouched: date/time types both ways,
// json and jsonb on the way in (drizzle serializes those itself)
const PASS_THROUGH_TYPES = ['1184', '1082', '1083', '1114', '1182', '1185', '1115', '1231']
const PASS_THROUGH_JSON_SERIALIZERS = ['114', '3802']

/**
 * drizzle replaces postgres.js's date handling on the client it wraps (values travel as ISO
 * strings, both ways). The raw pool does the same, so that a raw query and a drizzle query
 * agree on what a timestamp looks like (and keep its microseconds, which a Date would drop).
 */
function passDatesThrough (client: Sql) {
  const identity = (value: unknown) => value
  const options = client.options as unknown as {
    parsers: Record<string, (value: unknown) => unknown>
    serializers: Record<string, (value: unknown) => unknown>
  }
  for (const type of PASS_THROUGH_TYPES) {
    options.parsers[type] = identity
    options.serializers[type] = identity
  }
  for (const type of PASS_THROUGH_JSON_SERIALIZERS) options.serializers[type] = identity
}

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))

// an arbitrary constant shared by every Tessera instance: the advisory lock serialises migrations
const MIGRATION_LOCK_ID = 7_391_001

/**
 * Applies pending migrations on a dedicated single connection holding a session-level advisory
 * lock, so instances starting together run them once, one after the other.
 */
export async function runMigrations (url: string): Promise<void> {
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
