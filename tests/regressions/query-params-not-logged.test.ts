import { Writable } from 'node:stream'
import { sql } from 'drizzle-orm'
import pino from 'pino'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { buildApp } from '../../src/app.js'
import { createTestDatabase, type TestDatabase } from '../helpers/db.js'
import { expectError } from '../helpers/factories.js'
import { testConfig } from '../helpers/app.js'

// drizzle's DrizzleQueryError message carries the query's parameters: a failing insert of a user or
// a token would have logged a password hash or a token digest with the 500
let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db.drop()
})

it('logs a failed query without its parameters', async () => {
  const lines: string[] = []
  const capture = new Writable({
    write (chunk, _encoding, callback) {
      lines.push(String(chunk))
      callback()
    },
  })
  const logger = pino({ level: 'info' }, capture)
  const app = await buildApp({ config: testConfig(), database: db.database, ownsDatabase: false, logger })
  app.get('/test/failing-query', async () => {
    await db.database.db.execute(sql`select * from no_such_table where secret = ${'argon2id-hash-value'}`)
  })
  await app.ready()
  try {
    expectError(await app.inject({ url: '/test/failing-query' }), 500, 'internal_error')
  } finally {
    await app.close()
  }
  const errorLine = lines.find((line) => line.includes('"internal_error"'))
  expect(errorLine).toContain('no_such_table') // the SQL and the driver's error stay useful
  expect(lines.join('\n')).not.toContain('argon2id-hash-value')
})
