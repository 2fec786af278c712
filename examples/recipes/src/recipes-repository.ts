import type { Sql } from 'postgres'

export interface Recipe {
  id: string
  title: string
  ingredients: string[]
  steps: string
  createdAt: Date
  updatedAt: Date
}

export type RecipeInput = Pick<Recipe, 'title' | 'ingredients' | 'steps'>

/** The example's own table, beside Tessera's: a recipe belongs to one Tessera user. */
export async function createRecipesTable (sql: Sql) {
  await sql`
    create table if not exists recipes (
      id uuid primary key default gen_random_uuid(),
      owner_id uuid not null,
      title text not null,
      ingredients text[] not null default '{}',
      steps text not null default '',
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`
  await sql`create index if not exists recipes_owner_idx on recipes (owner_id, created_at)`
}

const COLUMNS = 'id, title, ingredients, steps, created_at as "createdAt", updated_at as "updatedAt"'

// every query names its owner: a user reaches only their own recipes, and another's id is not found
export function recipesRepository (sql: Sql) {
  return {
    list: (ownerId: string) =>
      sql<Recipe[]>`select ${sql.unsafe(COLUMNS)} from recipes where owner_id = ${ownerId} order by created_at, id`,
    async find (ownerId: string, id: string) {
      const [recipe] = await sql<Recipe[]>`select ${sql.unsafe(COLUMNS)} from recipes where owner_id = ${ownerId} and id = ${id}`
      return recipe
    },
    async create (ownerId: string, input: RecipeInput) {
      const [recipe] = await sql<Recipe[]>`
        insert into recipes (owner_id, title, ingredients, steps)
        values (${ownerId}, ${input.title}, ${input.ingredients}, ${input.steps})
        returning ${sql.unsafe(COLUMNS)}`
      return recipe as Recipe
    },
    async update (ownerId: string, id: string, input: RecipeInput) {
      const [recipe] = await sql<Recipe[]>`
        update recipes set title = ${input.title}, ingredients = ${input.ingredients}, steps = ${input.steps}, updated_at = now()
        where owner_id = ${ownerId} and id = ${id}
        returning ${sql.unsafe(COLUMNS)}`
      return recipe
    },
    async remove (ownerId: string, id: string) {
      const deleted = await sql`delete from recipes where owner_id = ${ownerId} and id = ${id}`
      return deleted.count > 0
    },
  }
}
