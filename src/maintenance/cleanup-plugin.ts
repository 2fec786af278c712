import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { serviceDeps } from '../plugins/context.js'
import { runCleanup } from './cleanup.js'

/**
 * Runs the cleanup job every CLEANUP_INTERVAL_SECONDS (0: never; tests and operators who prefer
 * `tessera tokens prune` from cron use that). A run never overlaps the previous one, and closing
 * the app stops the timer and waits for a run in progress, before the pool closes.
 */
async function cleanupJob (app: FastifyInstance) {
  const intervalSeconds = app.config.cleanupIntervalSeconds
  if (intervalSeconds === 0) return
  const deps = serviceDeps(app)
  let running: Promise<unknown> | null = null

  const tick = () => {
    if (running) return
    running = runCleanup(deps, { logger: app.log })
      .catch((error) => app.log.warn({ err: error }, 'cleanup failed; retrying at the next interval'))
      .finally(() => {
        running = null
      })
  }
  const timer = setInterval(tick, intervalSeconds * 1000)
  timer.unref()
  app.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}

export default fp(cleanupJob, { name: 'cleanup-job', dependencies: ['context', 'db'] })
