import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'

const HEALTH_TIMEOUT_MS = 2_000

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const Status = Type.Object({ status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]) })

  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness and database reachability',
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error('health check timed out')), HEALTH_TIMEOUT_MS)
      })
      try {
        await Promise.race([app.database.sql`select 1`, timeout])
        return { status: 'ok' as const }
      } catch (error) {
        request.log.warn({ reason: (error as Error).message }, 'database unreachable')
        return reply.code(503).send({ status: 'unavailable' as const })
      } finally {
        clearTimeout(timer)
      }
    }
  )
}
