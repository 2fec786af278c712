import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import postgres from 'postgres'
import tessera, { type AuthContext, type TesseraOptions } from 'tessera'
import { createRecipesTable, recipesRepository } from './recipes-repository.js'

export interface RecipesAppOptions {
  /** The PostgreSQL that holds the recipes, and Tessera's tables beside them. */
  databaseUrl: string
  /** Passed on to Tessera (its configuration table's variables in camelCase). */
  tessera?: TesseraOptions
  logger?: boolean
}

const RecipeBody = {
  type: 'object',
  required: ['title'],
  additionalProperties: false,
  properties: {
    title: { type: 'string', minLength: 1, maxLength: 200 },
    ingredients: { type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 200 }, default: [] },
    steps: { type: 'string', maxLength: 20_000, default: '' },
  },
} as const

const IdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid' } },
} as const

interface RecipeInput { title: string; ingredients: string[]; steps: string }

// request.auth is set on every route that declares config.auth: the guard refuses the request otherwise
const owner = (request: FastifyRequest) => (request.auth as AuthContext).userId

const notFound = (reply: FastifyReply) => reply.code(404).send({ error: 'not_found', message: 'No such recipe.' })

/** Users' own recipes, behind Tessera: each route says which scope it needs, and reads the user from request.auth. */
export async function buildRecipesApp (options: RecipesAppOptions) {
  const app = Fastify({ logger: options.logger ?? false })
  const sql = postgres(options.databaseUrl, { max: 5, onnotice: () => {} })
  app.addHook('onClose', () => sql.end({ timeout: 5 }))
  await createRecipesTable(sql)
  const recipes = recipesRepository(sql)

  await app.register(tessera, {
    databaseUrl: options.databaseUrl,
    scopes: { 'recipes:read': 'Read your recipes', 'recipes:write': 'Change your recipes' },
    ...options.tessera,
  })

  app.get('/recipes', { config: { auth: 'recipes:read' } }, async (request) => ({ recipes: await recipes.list(owner(request)) }))

  app.post<{ Body: RecipeInput }>('/recipes', { config: { auth: 'recipes:write' }, schema: { body: RecipeBody } }, async (request, reply) =>
    reply.code(201).send({ recipe: await recipes.create(owner(request), request.body) }))

  app.get<{ Params: { id: string } }>('/recipes/:id', { config: { auth: 'recipes:read' }, schema: { params: IdParams } }, async (request, reply) => {
    const recipe = await recipes.find(owner(request), request.params.id)
    return recipe ? { recipe } : notFound(reply)
  })

  app.put<{ Params: { id: string }; Body: RecipeInput }>(
    '/recipes/:id',
    { config: { auth: 'recipes:write' }, schema: { params: IdParams, body: RecipeBody } },
    async (request, reply) => {
      const recipe = await recipes.update(owner(request), request.params.id, request.body)
      return recipe ? { recipe } : notFound(reply)
    }
  )

  app.delete<{ Params: { id: string } }>('/recipes/:id', { config: { auth: 'recipes:write' }, schema: { params: IdParams } }, async (request, reply) =>
    (await recipes.remove(owner(request), request.params.id)) ? reply.code(204).send() : notFound(reply))

  return app
}
