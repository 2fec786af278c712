import { type SQL, sql as dsql } from 'drizzle-orm'
import type { Tx } from './client.js'

/**
 * The first key of each transaction-level advisory lock: one number per kind of thing locked,
 * so that two kinds never wait on each other. (The migration and cleanup locks are session-level,
 * on connections of their own: see db/client.ts and maintenance/cleanup.ts.)
 */
const LOCK_NAMESPACES = {
  mailRecipient: 7_391_010,
} as const

export type LockNamespace = keyof typeof LOCK_NAMESPACES

/**
 * Waits for the lock on `key` in `namespace` and holds it until the transaction ends, for things
 * that have no row to lock (an address that may belong to no account). The key is a SQL
 * expression, so that it is normalised the way the queries it protects compare (`lower()`); it is
 * hashed to 32 bits, so a collision only makes two keys wait on each other.
 */
export async function lockUntilTransactionEnds (tx: Tx, namespace: LockNamespace, key: SQL): Promise<void> {
  await tx.execute(dsql`select pg_advisory_xact_lock(${LOCK_NAMESPACES[namespace]}, hashtext(${key}))`)
}
