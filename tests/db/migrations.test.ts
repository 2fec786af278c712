import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { runMigrations } from '../../src/db/client.js'

const serverUrl = inject('serverUrl')
const name = `tessera_mig_${randomBytes(6).toString('hex')}`
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
const url = (() => {
  const u = new URL(serverUrl)
  u.pathname = `/${name}`
  return u.toString()
})()

afterAll(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
})

describe('runMigrations', () => {
  it('runs safely from two instances at once on an empty database, and again (idempotent)', async () => {
    await admin.unsafe(`create database ${name}`)
    await Promise.all([runMigrations(url), runMigrations(url), runMigrations(url)])
    await runMigrations(url)
    const sql = postgres(url, { max: 1, onnotice: () => {} })
    try {
      const tables = await sql`
        select table_name from information_schema.tables where table_schema = 'public' order by 1`
      expect(tables.map((t) => t.table_name)).toEqual(
        expect.arrayContaining(['auth_tokens', 'mail_outbox', 'one_time_tokens', 'security_events', 'users'])
      )
      const applied = await sql`select count(*)::int as n from drizzle.__drizzle_migrations`
      const journal = await import('../../drizzle/meta/_journal.json', { with: { type: 'json' } })
      expect(applied[0]?.n).toBe(journal.default.entries.length)
      const [lock] = await sql`select count(*)::int as n from pg_locks where locktype = 'advisory'
        and database = (select oid from pg_database where datname = current_database())`
      expect(lock?.n).toBe(0)
    } finally {
      await sql.end()
    }
  })
})
