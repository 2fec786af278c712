import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import type { TestProject } from 'vitest/node'
import { runMigrations } from '../src/db/client.js'
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/db/embedded.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL (any database); test files create their own databases on that server. */
    serverUrl: string
    /** A migrated database that each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string
  }
}

/**
 * One PostgreSQL for the run: the one in DATABASE_URL, or an embedded one in a temporary
 * directory (a fresh machine has no database). Migrations run once, into a template database.
 */
export default async function setup (project: TestProject) {
  let embedded: EmbeddedDatabase | null = null
  let dataDir: string | null = null
  let serverUrl = process.env.DATABASE_URL
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-'))
    // mkdtemp makes it 0700; when run as root, PostgreSQL runs as the postgres user and must enter it
    await chmod(dataDir, 0o755)
    embedded = await startEmbeddedPostgres(dataDir)
    serverUrl = embedded.url
  }
  const templateDatabase = `tessera_tpl_${randomBytes(4).toString('hex')}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${templateDatabase}`)
  const templateUrl = new URL(serverUrl)
  templateUrl.pathname = `/${templateDatabase}`
  await runMigrations(templateUrl.toString())

  project.provide('serverUrl', serverUrl)
  project.provide('templateDatabase', templateDatabase)

  return async () => {
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`)
    await admin.end()
    await embedded?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  }
}
