import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  digestToken,
  mintToken,
  parseToken,
  TOKEN_KINDS,
  TOKEN_PATTERN,
  type TokenKind,
} from '../../src/tokens/token-format.js'

const KINDS = Object.keys(TOKEN_KINDS) as TokenKind[]
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

describe('token format', () => {
  it.each(KINDS)('mints a %s token that parses back to its kind and digest', (kind) => {
    const { secret, digest } = mintToken(kind)
    expect(secret.startsWith(`tsr_${TOKEN_KINDS[kind]}_`)).toBe(true)
    // prefix + 43 chars (256 bits, base64url) + 6 chars (CRC32)
    expect(secret).toHaveLength(`tsr_${TOKEN_KINDS[kind]}_`.length + 49)
    expect(secret).toMatch(/^tsr_[a-z]+_[A-Za-z0-9_-]{49}$/)
    expect(digest).toHaveLength(32)
    expect(digest.equals(digestToken(secret))).toBe(true)
    const parsed = parseToken(secret)
    expect(parsed?.kind).toBe(kind)
    expect(parsed?.digest.equals(digest)).toBe(true)
  })

  it('draws the secret from the random source it is given', () => {
    const zeros = mintToken('session', (size) => Buffer.alloc(size))
    expect(zeros.secret.startsWith(`tsr_sess_${'A'.repeat(43)}`)).toBe(true)
    expect(parseToken(zeros.secret)).toEqual({ kind: 'session', digest: zeros.digest })
  })

  it('gives different secrets and digests each time', () => {
    const tokens = Array.from({ length: 50 }, () => mintToken('personal'))
    expect(new Set(tokens.map((t) => t.secret)).size).toBe(50)
    expect(new Set(tokens.map((t) => t.digest.toString('hex'))).size).toBe(50)
  })

  it('TOKEN_PATTERN finds minted tokens inside surrounding text, and nothing longer', () => {
    for (const kind of KINDS) {
      const { secret } = mintToken(kind)
      const text = `config:\n  api_key="${secret}" # leaked\n`
      expect(text.match(TOKEN_PATTERN)?.[0]).toBe(secret)
      expect(`${secret}x`.match(TOKEN_PATTERN)).toBeNull()
      expect(`x${secret}`.match(TOKEN_PATTERN)).toBeNull()
    }
  })

  it.each([
    '',
    'tsr_sess_',
    'tsr_other_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    'Bearer tsr_sess_x',
    'é'.repeat(60),
  ])('rejects %j', (candidate) => {
    expect(parseToken(candidate)).toBeNull()
  })

  it('rejects a token with surrounding whitespace', () => {
    const { secret } = mintToken('session')
    expect(parseToken(` ${secret}`)).toBeNull()
    expect(parseToken(`${secret}\n`)).toBeNull()
  })

  it('rejects any single-character change to a valid token', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS),
        fc.nat(),
        fc.constantFrom(...BASE64URL, '.', '~', '+', '/', '=', ' ', 'é', '\u0000'),
        (kind, position, replacement) => {
          const { secret } = mintToken(kind)
          const index = position % secret.length
          fc.pre(secret[index] !== replacement)
          const mutated = secret.slice(0, index) + replacement + secret.slice(index + 1)
          expect(parseToken(mutated)).toBeNull()
        }
      ),
      { numRuns: 2000 }
    )
  })

  it('rejects any truncation or extension of a valid token', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS), fc.nat(), fc.constantFrom(...BASE64URL), (kind, cut, extra) => {
        const { secret } = mintToken(kind)
        expect(parseToken(secret.slice(0, cut % secret.length))).toBeNull()
        expect(parseToken(secret + extra)).toBeNull()
      }),
      { numRuns: 500 }
    )
  })
})
