/**
 * Shows the plan of the token-listing query (GET /v1/me/tokens) on a freshly seeded database:
 * `DATABASE_URL=postgres://…/postgres npx tsx bench/explain-list-tokens.ts [users] [tokensPerUser]`.
 * Creates and drops a scratch database on that server.
 */
import postgres from 'postgres'
import { createDb, runMigrations } from '../src/db/client.js'
import { listActiveTokens } from '../src/tokens/tokens-repository.js'
import { seedTokens } from './seed-tokens.js'

const server = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const users = Number(process.argv[2] ?? 2000)
const tokensPerUser = Number(process.argv[3] ?? 100)
const name = `tessera_explain_${Date.now()}`
const admin = postgres(server, { max: 1, onnotice: () => {} })
await admin.unsafe(`create database ${name}`)
const url = new URL(server)
url.pathname = `/${name}`
try {
  await runMigrations(url.toString())
  const database = createDb(url.toString())
  const started = Date.now()
  const seeded = await seedTokens(database.sql, { users, tokensPerUser, realTokens: true })
  console.log(`seeded ${users * (tokensPerUser + 1)} auth_tokens rows in ${Date.now() - started} ms`)
  await database.sql`analyze auth_tokens`
  const someone = seeded[Math.floor(seeded.length / 2)]?.userId as string
  const query = listActiveTokens(database.db, someone, new Date()).toSQL()
  const plan = await database.sql.unsafe(`explain (analyze, buffers) ${query.sql}`, query.params as never[])
  for (const row of plan) console.log(row['QUERY PLAN'])
  await database.close()
} finally {
  await admin.unsafe(`drop database if exists ${name} with (force)`)
  await admin.end()
}
