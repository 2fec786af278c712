import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  digestToken,
  mintToken,
  parseToken,
  TOKEN_KINDS,
  TOKEN_PATTERN,
} from '../../src/tokens/token-format.js'

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const kinds = fc.constantFrom(...(Object.keys(TOKEN_KINDS) as Array<keyof typeof TOKEN_KINDS>))
const seeds = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => Buffer.from(bytes))
const tokens = fc.tuple(kinds, seeds).map(([kind, seed]) => ({ kind, ...mintToken(kind, () => seed) }))

describe('token format', () => {
  it('mints tokens that parse back to their kind and digest, and that the scanner regex finds', () => {
    fc.assert(
      fc.property(tokens, ({ kind, secret, digest }) => {
        const parsed = parseToken(secret)
        expect(parsed?.kind).toBe(kind)
        expect(parsed?.digest.equals(digest)).toBe(true)
        expect(digest.equals(digestToken(secret))).toBe(true)
        expect(TOKEN_PATTERN.exec(`leaked: ${secret}\n`)?.[0]).toBe(secret)
      })
    )
  })

  it('keeps the documented format: a SHA-256 digest and a base64url CRC-32 of all before it', () => {
    fc.assert(
      fc.property(tokens, ({ secret, digest }) => {
        const payload = secret.slice(0, -6)
        const crc = Buffer.alloc(4)
        crc.writeUInt32BE(crc32(payload))
        // tokens issued before the allocation-free checksum still parse, and the reverse
        expect(secret.slice(-6)).toBe(crc.toString('base64url'))
        expect(digest.equals(createHash('sha256').update(secret).digest())).toBe(true)
      })
    )
  })

  it('rejects any single-character substitution (the checksum catches a typo without a query)', () => {
    fc.assert(
      fc.property(tokens, fc.nat(), fc.constantFrom(...ALPHABET), ({ secret }, at, replacement) => {
        const index = at % secret.length
        fc.pre(secret[index] !== replacement)
        const mutated = secret.slice(0, index) + replacement + secret.slice(index + 1)
        expect(parseToken(mutated)).toBeNull()
      }),
      { numRuns: 2_000 }
    )
  })

  it('rejects truncated and extended tokens', () => {
    fc.assert(
      fc.property(tokens, fc.integer({ min: 1, max: 60 }), ({ secret }, cut) => {
        expect(parseToken(secret.slice(0, secret.length - cut))).toBeNull()
        expect(parseToken(`${secret}${ALPHABET[cut] ?? 'x'}`)).toBeNull()
      })
    )
  })

  it('rejects any single adjacent transposition', () => {
    fc.assert(
      fc.property(tokens, fc.nat(), ({ secret }, at) => {
        const index = at % (secret.length - 1)
        fc.pre(secret[index] !== secret[index + 1])
        const swapped = secret.slice(0, index) + secret[index + 1] + secret[index] + secret.slice(index + 2)
        expect(parseToken(swapped)).toBeNull()
      }),
      { numRuns: 1_000 }
    )
  })

  it.each([
    ['empty', ''],
    ['another vendor’s prefix', `ghp_${'a'.repeat(49)}`],
    ['an unknown kind', `tsr_xyz_${'a'.repeat(49)}`],
    ['a JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'],
    ['whitespace around', ' tsr_pat_x '],
  ])('rejects %s', (_case, candidate) => {
    expect(parseToken(candidate)).toBeNull()
  })

  it('documents a scanner regex that does not match inside longer words', () => {
    const { secret } = mintToken('personal')
    expect(TOKEN_PATTERN.test(`x${secret}`)).toBe(false)
    expect(TOKEN_PATTERN.test(`${secret}a`)).toBe(false)
    expect(TOKEN_PATTERN.test(`"${secret}"`)).toBe(true)
  })
})
