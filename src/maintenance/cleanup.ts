import type { Deps } from '../deps.js'
import { pruneEvents } from '../events/events-service.js'
import { pruneSentMail } from '../mail/mail-service.js'
import { pruneExpiredTokens } from '../tokens/tokens-service.js'

/** One housekeeping task; returns how many rows it removed. */
export interface CleanupStep {
  name: string
  /** What the step deletes, for people (CLI output). */
  removes: string
  run(deps: Deps): Promise<number>
}

/**
 * The housekeeping the server does periodically. Add a step here and the in-process job,
 * `runCleanup` and the CLI's `<name> prune` command all pick it up.
 */
export const CLEANUP_STEPS: readonly CleanupStep[] = [
  {
    name: 'tokens',
    removes: 'tokens expired or revoked more than TOKEN_RETENTION_DAYS days ago',
    run: (deps) => pruneExpiredTokens(deps, deps.config.tokenRetentionDays),
  },
  {
    name: 'events',
    removes: 'security events older than EVENT_RETENTION_DAYS days',
    run: (deps) => pruneEvents(deps, deps.config.eventRetentionDays),
  },
  {
    name: 'mail',
    removes: 'mails sent (or given up on) more than MAIL_RETENTION_DAYS days ago',
    run: (deps) => pruneSentMail(deps.database, deps.config.mailRetentionDays, deps.now()),
  },
]

// an arbitrary constant shared by every Tessera instance (the migration lock is 7_391_001)
export const CLEANUP_LOCK_ID = 7_391_002

export interface CleanupLogger {
  info(object: Record<string, unknown>, message: string): void
}

export type CleanupResult = { ran: false } | { ran: true; removed: Record<string, number> }

/**
 * Runs every cleanup step unless another instance is already running them: a session-level
 * advisory lock on a dedicated connection (try, never wait), so with several instances sharing a
 * database one does the work and the others skip this round. The steps themselves use the pool
 * and may commit in batches; the lock spans them all.
 */
export async function runCleanup (
  deps: Deps,
  options: { logger?: CleanupLogger; steps?: readonly CleanupStep[] } = {}
): Promise<CleanupResult> {
  const connection = await deps.database.sql.reserve()
  try {
    const [row] = await connection<
      { locked: boolean }[]
    >`select pg_try_advisory_lock(${CLEANUP_LOCK_ID}) as locked`
    if (!row?.locked) return { ran: false }
    try {
      const removed: Record<string, number> = {}
      for (const step of options.steps ?? CLEANUP_STEPS) {
        removed[step.name] = await step.run(deps)
        options.logger?.info({ step: step.name, removed: removed[step.name] }, 'cleanup step done')
      }
      return { ran: true, removed }
    } finally {
      await connection`select pg_advisory_unlock(${CLEANUP_LOCK_ID})`
    }
  } finally {
    connection.release()
  }
}
