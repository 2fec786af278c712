import type { Config } from '../config.js'
import { createDb, type Database, runMigrations } from './client.js'
import { startEmbeddedPostgres } from './embedded.js'

export interface OpenDatabase {
  database: Database
  /** Whether it is the embedded PostgreSQL under DATA_DIR (no DATABASE_URL). */
  embedded: boolean
  /** Closes the pool, then stops the embedded PostgreSQL if there is one. */
  close(): Promise<void>
}

/**
 * Tessera's database at start, for its own server and for the plugin alike: DATABASE_URL's, or an
 * embedded PostgreSQL under DATA_DIR when it is unset; migrations applied.
 */
export async function openDatabase (config: Config, log: (message: string) => void): Promise<OpenDatabase> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres(config.dataDir, log)
  const url = config.databaseUrl ?? (embedded?.url as string)
  try {
    await runMigrations(url)
  } catch (error) {
    await embedded?.stop()
    throw error
  }
  const database = createDb(url, { poolSize: config.databasePoolSize })
  return {
    database,
    embedded: embedded !== null,
    close: async () => {
      // the pool first: PostgreSQL stopping under open connections would fail their last writes
      await database.close()
      await embedded?.stop()
    },
  }
}
