import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { inject } from 'vitest'
import { createDb, type Database } from '../../src/db/client.js'

export interface TestDatabase {
  url: string
  database: Database
  drop(): Promise<void>
}

function withDatabase (serverUrl: string, name: string): string {
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** A fresh, migrated database of its own (a clone of the run's template), so tests never share state. */
export async function createTestDatabase (): Promise<TestDatabase> {
  const serverUrl = inject('serverUrl')
  const name = `tessera_test_${randomBytes(6).toString('hex')}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  try {
    await admin.unsafe(`create database ${name} template ${inject('templateDatabase')}`)
  } finally {
    await admin.end()
  }
  const url = withDatabase(serverUrl, name)
  const database = createDb(url, { poolSize: 5 })
  return {
    url,
    database,
    async drop () {
      await database.close()
      const cleanup = postgres(serverUrl, { max: 1, onnotice: () => {} })
      try {
        await cleanup.unsafe(`drop database if exists ${name} with (force)`)
      } finally {
        await cleanup.end()
      }
    },
  }
}
