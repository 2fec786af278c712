import type { FastifyInstance } from 'fastify'
import type { Database } from '../../src/db/client.js'
import { createUser, login } from './factories.js'

/** Makes a registered user an admin directly in the database, as `tessera users promote` does. */
export async function promoteToAdmin (database: Database, userId: string) {
  await database.sql`update users set role = 'admin' where id = ${userId}`
}

/** A registered user promoted to admin, then logged in (so the session holds the admin scope). */
export async function createLoggedInAdmin (app: FastifyInstance, database: Database) {
  const user = await createUser(app)
  await promoteToAdmin(database, user.id)
  return { user, ...(await login(app, user)) }
}
