import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import type { TestProject } from 'vitest/node'
import { runMigrations } from '../src/db/client.js'
import { type EmbeddedDatabase, startEmbeddedPostgres } from '../src/db/embedded.js'
import { displayUrl, redisAnswers, redisTarget } from './helpers/redis.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server URL (any database); test files create their own databases on that server. */
    serverUrl: string
    /** A migrated database that each test file clones (CREATE DATABASE … TEMPLATE). */
    templateDatabase: string
    /** The Redis that answered (tests/helpers/redis.ts), or null: the tests that need one skip. */
    redisUrl: string | null
  }
}

/**
 * One PostgreSQL for the run: the one in DATABASE_URL, or an embedded one in a temporary
 * directory (a fresh machine has no database). Migrations run once, into a template database.
 */
export default async function setup (project: TestProject) {
  const redisUrl = await probeRedis()
  let embedded: EmbeddedDatabase | null = null
  let dataDir: string | null = null
  let serverUrl = process.env.DATABASE_URL
  if (!serverUrl) {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-test-'))
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
  project.provide('redisUrl', redisUrl)

  return async () => {
    await admin.unsafe(`drop database if exists ${templateDatabase} with (force)`)
    await admin.end()
    await embedded?.stop()
    if (dataDir) await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Probes the tests' Redis once for the run. A required one (REDIS_URL set, as in CI) that does
 * not answer fails the run; an optional one that does not answer makes the Redis suites skip,
 * said once, here, rather than by each of their tests failing.
 */
async function probeRedis () {
  const { url, required } = redisTarget()
  if (await redisAnswers(url)) return url
  if (required) {
    throw new Error(`REDIS_URL=${displayUrl(url)} does not answer: the Redis tests need it (unset REDIS_URL to skip them)`)
  }
  console.warn(
    `[tessera tests] no Redis answers at ${displayUrl(url)} and REDIS_URL is unset: ` +
      'skipping the tests that need Redis (start one, or set REDIS_URL to require it)'
  )
  return null
}
