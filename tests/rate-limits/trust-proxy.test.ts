import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { expectError } from '../helpers/factories.js'

// API.md, Rate limits: TRUST_PROXY names the proxies in front; the client is the rightmost
// X-Forwarded-For entry that is not one of them, and a non-IP value is never used or stored.
const t = useTestApp({ env: { RATE_LIMIT_ANON_MAX: '1' } })

interface From {
  socket: string
  forwardedFor?: string
}

const ping = ({ socket, forwardedFor }: From) =>
  t.context.app.inject({
    url: '/v1/ping',
    remoteAddress: socket,
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  })

/** The address Tessera records for a request: the ip of the user.registered event it writes. */
async function recordedAddress (from: From) {
  const username = `u${Math.random().toString(36).slice(2, 10)}`
  const response = await t.context.app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    remoteAddress: from.socket,
    headers: from.forwardedFor === undefined ? {} : { 'x-forwarded-for': from.forwardedFor },
    payload: { email: `${username}@example.com`, username, password: 'a-Long-unusual-passw0rd' },
  })
  expect(response.statusCode, response.body).toBe(201)
  const [event] = await t.context.db.database.sql<{ ip: string | null }[]>`
    select ip from security_events where user_id = ${response.json().user.id} and type = 'user.registered'`
  return event?.ip
}

describe('TRUST_PROXY as a hop count', () => {
  it.each(['1', 'true'])(
    'TRUST_PROXY=%s: entries a client prepends share the budget of the address the proxy saw',
    async (trustProxy) => {
      await t.setup({ env: { RATE_LIMIT_ANON_MAX: '1', TRUST_PROXY: trustProxy } })
      const proxy = '10.0.0.1'
      expectError(await ping({ socket: proxy, forwardedFor: '1.1.1.1, 203.0.113.7' }), 401, 'token_missing')
      // another forged leftmost entry, the same client behind the proxy: the same budget
      expectError(await ping({ socket: proxy, forwardedFor: '2.2.2.2, 203.0.113.7' }), 429, 'rate_limited')
      // another client behind the same proxy has a budget of its own
      expectError(await ping({ socket: proxy, forwardedFor: '2.2.2.2, 203.0.113.8' }), 401, 'token_missing')
    }
  )

  it('TRUST_PROXY=2: the client is the second entry from the right', async () => {
    await t.setup({ env: { TRUST_PROXY: '2' } })
    expect(await recordedAddress({ socket: '10.0.0.1', forwardedFor: '9.9.9.9, 198.51.100.1, 10.0.0.2' }))
      .toBe('198.51.100.1')
    // fewer entries than hops: the leftmost one is all there is
    expect(await recordedAddress({ socket: '10.0.0.1', forwardedFor: '198.51.100.2' })).toBe('198.51.100.2')
  })

  it.each(['not-an-ip', '<script>alert(1)</script>', '203.0.113.7:4711', 'unknown'])(
    'never stores a non-IP X-Forwarded-For value (%s): the socket address is recorded',
    async (forged) => {
      await t.setup({ env: { TRUST_PROXY: '1' } })
      expect(await recordedAddress({ socket: '10.0.0.1', forwardedFor: `198.51.100.9, ${forged}` })).toBe('10.0.0.1')
    }
  )

  it('counts a non-IP X-Forwarded-For value against the socket address', async () => {
    await t.setup({ env: { RATE_LIMIT_ANON_MAX: '1', TRUST_PROXY: '1' } })
    expectError(await ping({ socket: '10.0.0.1', forwardedFor: 'junk-1' }), 401, 'token_missing')
    expectError(await ping({ socket: '10.0.0.1', forwardedFor: 'junk-2' }), 429, 'rate_limited')
  })
})

describe('TRUST_PROXY as a list of addresses and CIDRs', () => {
  const env = { TRUST_PROXY: '10.0.0.0/8, 192.0.2.1' }

  it('skips the trusted proxies from the right and takes the first address that is not one', async () => {
    await t.setup({ env })
    expect(await recordedAddress({ socket: '10.1.2.3', forwardedFor: '6.6.6.6, 203.0.113.9, 192.0.2.1, 10.9.9.9' }))
      .toBe('203.0.113.9')
  })

  it('ignores X-Forwarded-For from a peer that is not a trusted proxy', async () => {
    await t.setup({ env })
    expect(await recordedAddress({ socket: '198.51.100.5', forwardedFor: '203.0.113.9' })).toBe('198.51.100.5')
  })

  it('gives forged leftmost entries no budget of their own', async () => {
    await t.setup({ env: { ...env, RATE_LIMIT_ANON_MAX: '1' } })
    expectError(await ping({ socket: '10.1.2.3', forwardedFor: '1.1.1.1, 203.0.113.9, 192.0.2.1' }), 401, 'token_missing')
    expectError(await ping({ socket: '10.7.7.7', forwardedFor: '2.2.2.2, 203.0.113.9' }), 429, 'rate_limited')
  })
})
