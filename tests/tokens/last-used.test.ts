import type { FastifyInstance } from 'fastify'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { buildTestApp, useTestApp } from '../helpers/app.js'
import { createLoggedInUser, login, ping } from '../helpers/factories.js'
import { listTokens } from '../helpers/tokens.js'

const t = useTestApp()
// near the real time: tokens made by t.context.app (real clock) must not look expired
const T0 = new Date(Math.floor(Date.now() / 1000) * 1000)
const IP = '203.0.113.9'

let extra: FastifyInstance[] = []
afterEach(async () => {
  await Promise.all(extra.map((app) => app.close()))
  extra = []
})

/** An instance whose clock reads `at`; closing it flushes the recorder (the shutdown path). */
async function instanceAt (at: Date) {
  const app = await buildTestApp(t.context.db.database, { now: () => at })
  extra.push(app)
  return app
}

async function useToken (app: FastifyInstance, token: string, times: number) {
  const responses = await Promise.all(
    Array.from({ length: times }, () =>
      ping(app, token, { remoteAddress: IP })
    )
  )
  for (const response of responses) expect(response.statusCode).toBe(200)
}

/**
 * A real count of last-use writes, kept by PostgreSQL itself: a trigger records every row
 * update that changes last_used_at, with the id of the transaction (one flush = one statement).
 */
beforeEach(async () => {
  const { sql } = t.context.db.database
  await sql`create table if not exists last_use_writes (token_id uuid, xid bigint)`
  await sql`truncate last_use_writes`
  await sql`
    create or replace function count_last_use() returns trigger language plpgsql as $$
    begin
      insert into last_use_writes values (new.id, txid_current());
      return new;
    end $$`
  await sql`drop trigger if exists count_last_use on auth_tokens`
  await sql`
    create trigger count_last_use after update of last_used_at on auth_tokens
    for each row when (old.last_used_at is distinct from new.last_used_at)
    execute function count_last_use()`
})

const writes = () =>
  t.context.db.database.sql<
    { token_id: string; xid: string }[]
  >`select token_id, xid::text from last_use_writes`

describe('lastUsedAt and lastUsedIp', () => {
  it('appear in the token list after use and a flush, with no write on the request path', async () => {
    const { user } = await createLoggedInUser(t.context.app)
    const first = await instanceAt(T0)
    const { token, tokenId } = await login(first, user)
    await useToken(first, token, 50)
    expect(await writes()).toEqual([])
    await first.close()
    const rows = await writes()
    expect(rows.map((row) => row.token_id)).toEqual([tokenId])

    const viewer = await instanceAt(T0)
    const listed = (await listTokens(viewer, token)).find((x) => x.id === tokenId)
    expect(listed).toMatchObject({ lastUsedAt: T0.toISOString(), lastUsedIp: IP })
  })

  it('costs at most one UPDATE per token per minute, however busy the token', async () => {
    const { user } = await createLoggedInUser(t.context.app)
    const { token, tokenId } = await login(t.context.app, user)
    for (const offsetSeconds of [0, 10, 30, 59]) {
      const app = await instanceAt(new Date(T0.getTime() + offsetSeconds * 1000))
      await useToken(app, token, 40)
      await app.close()
    }
    expect((await writes()).filter((row) => row.token_id === tokenId)).toHaveLength(1)

    const later = await instanceAt(new Date(T0.getTime() + 61_000))
    await useToken(later, token, 40)
    await later.close()
    expect((await writes()).filter((row) => row.token_id === tokenId)).toHaveLength(2)
    const viewer = await instanceAt(new Date(T0.getTime() + 61_000))
    const listed = (await listTokens(viewer, token)).find((x) => x.id === tokenId)
    expect(listed?.lastUsedAt).toBe(new Date(T0.getTime() + 61_000).toISOString())
  })

  it('writes the last uses of many tokens in one batched UPDATE', async () => {
    const tokens = await Promise.all(
      Array.from({ length: 5 }, async () => (await createLoggedInUser(t.context.app)).token)
    )
    const app = await instanceAt(T0)
    for (const token of tokens) await useToken(app, token, 5)
    await app.close()
    const rows = await writes()
    expect(rows).toHaveLength(5)
    expect(new Set(rows.map((row) => row.xid)).size).toBe(1)
  })
})
