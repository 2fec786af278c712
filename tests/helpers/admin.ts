import type { FastifyInstance } from 'fastify'
import type { Database } from '../../src/db/client.js'
import { createUser, login } from './factories.js'

/** A registered user promoted to admin directly in the database (as the CLI would), logged in. */
export async function createLoggedInAdmin (app: FastifyInstance, database: Database) {
  const user = await createUser(app)
  await database.sql`update users set role = 'admin' where id = ${user.id}`
  return { user, ...(await login(app, user)) }
}
