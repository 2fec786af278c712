import type { DbOrTx } from '../db/client.js'
import { type EventType, recordEvent } from '../events/events-repository.js'
import type { RequestInfo } from '../tokens/tokens-service.js'

/** Who made an administrative change: an admin's request, or the operator CLI (userId null). */
export interface Actor extends RequestInfo {
  userId: string | null
  tokenId: string | null
}

export const CLI_ACTOR: Actor = { userId: null, tokenId: null, ip: null, userAgent: 'tessera-cli' }

/**
 * Records an administrative change in the caller's transaction, on the affected user's
 * timeline; `data.by` names the acting admin's id, or "cli".
 */
export async function recordAdminEvent (
  tx: DbOrTx,
  actor: Actor,
  event: { type: EventType; userId: string; data?: Record<string, unknown> }
) {
  await recordEvent(tx, {
    type: event.type,
    userId: event.userId,
    tokenId: actor.tokenId,
    ip: actor.ip,
    userAgent: actor.userAgent,
    data: { by: actor.userId ?? 'cli', ...event.data },
  })
}
