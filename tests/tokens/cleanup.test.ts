import postgres from 'postgres'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { seedTokens } from '../../bench/seed-tokens.js'
import { CLEANUP_LOCK_ID, runCleanup } from '../../src/maintenance/cleanup.js'
import { pruneTokensBatch } from '../../src/tokens/tokens-repository.js'
import { pruneExpiredTokens } from '../../src/tokens/tokens-service.js'
import { buildTestApp, testConfig, useTestApp } from '../helpers/app.js'
import { createScopeCatalog } from '../../src/tokens/scopes.js'
import { createLoggedInUser, ping } from '../helpers/factories.js'

const t = useTestApp()
// near the real time, so that the session token createLoggedInUser makes is not itself prunable
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000)
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000)
// drizzle swaps the shared client's date serializers: raw queries take ISO strings
const iso = (date: Date | null) => date?.toISOString() ?? null
const depsAt = (now: Date) => ({ database: t.context.db.database, config: testConfig(), now: () => now, scopes: createScopeCatalog({}) })

/**
 * One token row per case, with the given expiry and revocation times (and `batch` after each
 * name, for a second set); returns a function listing the names left.
 */
async function insertCases (batch = '') {
  const { user } = await createLoggedInUser(t.context.app)
  const { sql } = t.context.db.database
  const cases: Array<[string, Date | null, Date | null]> = [
    ['expired 31 days ago', daysAgo(31), null],
    ['expired 29 days ago', daysAgo(29), null],
    ['revoked 31 days ago', daysAgo(-10), daysAgo(31)],
    ['revoked 10 days ago', daysAgo(-10), daysAgo(10)],
    ['active', daysAgo(-10), null],
    ['never expires', null, null],
  ]
  for (const [name, expiresAt, revokedAt] of cases) {
    await sql`
      insert into auth_tokens (user_id, token_hash, kind, name, scopes, expires_at, revoked, revoked_at)
      values (${user.id}, sha256(convert_to(${name + batch}, 'UTF8')), 'personal', ${name + batch}, '{profile:read}',
              ${iso(expiresAt)}::timestamptz, ${revokedAt !== null}, ${iso(revokedAt)}::timestamptz)`
  }
  return async () =>
    (await sql<{ name: string }[]>`select name from auth_tokens where kind = 'personal' order by name`).map(
      (r) => r.name
    )
}

afterEach(() => {
  vi.useRealTimers()
})

describe('pruning expired and revoked tokens', () => {
  it('deletes tokens expired or revoked more than the retention period ago, and only those', async () => {
    const remaining = await insertCases()
    const pruned = await pruneExpiredTokens(depsAt(NOW), 30)
    expect(pruned).toBe(2)
    expect(await remaining()).toEqual([
      'active',
      'expired 29 days ago',
      'never expires',
      'revoked 10 days ago',
    ])
  })

  it('deletes in batches until nothing is left', async () => {
    const { sql } = t.context.db.database
    await seedTokens(sql, { users: 3, tokensPerUser: 10, activeFraction: 0.1 })
    // seeded history is revoked a day ago: 27 of the 30 rows
    expect(await pruneTokensBatch(t.context.db.database.db, new Date(Date.now() + 1000), 5)).toBe(5)
    expect(await pruneExpiredTokens(depsAt(new Date(Date.now() + 1000)), 0)).toBe(22)
    const [left] = await sql`select count(*)::int as n from auth_tokens`
    expect(left?.n).toBe(3)
  })
})

describe('runCleanup', () => {
  it('runs every step under the advisory lock and logs how many rows each removed', async () => {
    const remaining = await insertCases()
    const info = vi.fn()
    const result = await runCleanup(depsAt(NOW), { logger: { info } })
    expect(result).toEqual({ ran: true, removed: { tokens: 2, events: 0, mail: 0 } })
    expect(info).toHaveBeenCalledWith({ step: 'tokens', removed: 2 }, 'cleanup step done')
    expect(await remaining()).toHaveLength(4)
  })

  it('skips the round, removing nothing, while another instance holds the lock', async () => {
    const remaining = await insertCases()
    const other = postgres(t.context.db.url, { max: 1, onnotice: () => {} })
    try {
      await other`select pg_advisory_lock(${CLEANUP_LOCK_ID})`
      expect(await runCleanup(depsAt(NOW))).toEqual({ ran: false })
      expect(await remaining()).toHaveLength(6)
      await other`select pg_advisory_unlock(${CLEANUP_LOCK_ID})`
      expect(await runCleanup(depsAt(NOW))).toMatchObject({ ran: true })
      expect(await remaining()).toHaveLength(4)
    } finally {
      await other.end()
    }
  })

  it('of concurrent runs, those that find the lock taken skip; the tokens are pruned once', async () => {
    await insertCases()
    const results = await Promise.all(
      Array.from({ length: 4 }, () => runCleanup(depsAt(NOW)))
    )
    const removed = results.map((r) => (r.ran ? r.removed.tokens : 0))
    expect(removed.reduce<number>((sum, n) => sum + (n ?? 0), 0)).toBe(2)
  })
})

describe('the periodic cleanup job', () => {
  it('runs every CLEANUP_INTERVAL_SECONDS and stops when the app closes', async () => {
    const remaining = await insertCases()
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    // a round starts by reading the app's clock (the time it prunes against)
    const now = vi.fn(() => NOW)
    const app = await buildTestApp(t.context.db.database, { env: { CLEANUP_INTERVAL_SECONDS: '60' }, now })
    try {
      vi.advanceTimersByTime(59_000)
      expect(await remaining()).toHaveLength(6)
      vi.advanceTimersByTime(1_000)
      await vi.waitFor(async () => expect(await remaining()).toHaveLength(4), { timeout: 5_000 })
    } finally {
      await app.close()
    }
    // closed: an hour of intervals later no round has started, and fresh prunable rows are still
    // there for a run of our own to remove
    await insertCases(' (after close)')
    const readsAtClose = now.mock.calls.length
    vi.advanceTimersByTime(3_600_000)
    expect(now.mock.calls.length).toBe(readsAtClose)
    expect(await runCleanup(depsAt(NOW))).toEqual({
      ran: true,
      removed: { tokens: 2, events: 0, mail: 0 },
    })
  })

  it('is off with CLEANUP_INTERVAL_SECONDS=0', async () => {
    const remaining = await insertCases()
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const app = await buildTestApp(t.context.db.database, { now: () => NOW })
    try {
      vi.advanceTimersByTime(86_400_000)
    } finally {
      // closing waits for a round in progress: had a day of intervals started one, it is done now
      await app.close()
    }
    expect(await remaining()).toHaveLength(6)
  })
})

describe('seedTokens (for the bench)', () => {
  it('inserts the rows asked for, and real tokens that authenticate', async () => {
    const { sql } = t.context.db.database
    const seeded = await seedTokens(sql, { users: 4, tokensPerUser: 25, realTokens: true })
    expect(seeded).toHaveLength(4)
    const [count] = await sql`select count(*)::int as n from auth_tokens`
    expect(count?.n).toBe(4 * 25 + 4)
    for (const { token } of seeded) {
      const response = await ping(t.context.app, token as string)
      expect(response.statusCode).toBe(200)
    }
  })
})
