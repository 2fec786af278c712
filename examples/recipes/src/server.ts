import { buildRecipesApp } from './app.js'

const databaseUrl = process.env.DATABASE_URL
if (!databaseUrl) {
  console.error('DATABASE_URL must name the PostgreSQL database for the recipes (and Tessera)')
  process.exit(1)
}
const app = await buildRecipesApp({ databaseUrl, logger: true })
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { app.close().catch(console.error) })
await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 3001) })
