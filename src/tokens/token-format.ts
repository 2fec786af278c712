import { hash, randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'

/**
 * Token format: `tsr_<kind>_<43 chars: 256 CSPRNG bits, base64url><6 chars: CRC32, base64url>`.
 * The fixed prefix lets secret scanners find leaked tokens (TOKEN_PATTERN); the checksum
 * rejects a mistyped or truncated token before any database query. Pure: no I/O.
 */
export const TOKEN_KINDS = { session: 'sess', personal: 'pat', mail: 'mail' } as const
export type TokenKind = keyof typeof TOKEN_KINDS

const SECRET_BYTES = 32 // 256 bits
const SECRET_CHARS = 43 // base64url of 32 bytes, unpadded
const CHECKSUM_CHARS = 6 // base64url of a 4-byte CRC32

/** For secret scanners (documented in the README). */
export const TOKEN_PATTERN = /(?<![A-Za-z0-9_-])tsr_(?:sess|pat|mail)_[A-Za-z0-9_-]{49}(?![A-Za-z0-9_-])/

// the whole shape, tested without capturing (no match array on the hot path)
const SHAPE = /^tsr_(?:sess|pat|mail)_[A-Za-z0-9_-]{49}$/
const KIND_BY_TAG_INITIAL: Record<string, TokenKind> = { s: 'session', p: 'personal', m: 'mail' }
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

export interface MintedToken {
  /** The plaintext: shown to its owner once, never stored or logged. */
  secret: string
  /** SHA-256 of the secret: the only form that is stored. */
  digest: Buffer
}

export interface ParsedToken {
  kind: TokenKind
  digest: Buffer
}

/**
 * The i-th of the 6 characters (i = 0..5) of a CRC-32 in base64url, as its 4 bytes big-endian
 * would encode unpadded: five 6-bit groups, then the last 2 bits followed by 4 zero bits.
 */
const checksumSextet = (crc: number, i: number) => (i < 5 ? (crc >>> (26 - 6 * i)) & 63 : (crc & 3) << 4)

function checksum (payload: string): string {
  const crc = crc32(payload)
  let out = ''
  for (let i = 0; i < CHECKSUM_CHARS; i++) out += BASE64URL[checksumSextet(crc, i)]
  return out
}

/** Compared in place, character by character: nothing is allocated for a checksum on the hot path. */
function checksumMatches (token: string, payloadLength: number): boolean {
  const crc = crc32(token.slice(0, payloadLength))
  for (let i = 0; i < CHECKSUM_CHARS; i++) {
    if (token.charCodeAt(payloadLength + i) !== BASE64URL.charCodeAt(checksumSextet(crc, i))) return false
  }
  return true
}

export function digestToken (secret: string): Buffer {
  return hash('sha256', secret, 'buffer')
}

export function mintToken (kind: TokenKind, random: (size: number) => Buffer = randomBytes): MintedToken {
  const payload = `tsr_${TOKEN_KINDS[kind]}_${random(SECRET_BYTES).toString('base64url')}`
  const secret = payload + checksum(payload)
  return { secret, digest: digestToken(secret) }
}

/** Returns null for anything that is not a well-formed token with a valid checksum. */
export function parseToken (candidate: string): ParsedToken | null {
  if (!SHAPE.test(candidate)) return null
  // a plain comparison: the checksum guards against typos, it is derived from the token itself
  // and is no secret (the secret is only ever compared as a SHA-256 digest, by the index lookup)
  if (!checksumMatches(candidate, candidate.length - CHECKSUM_CHARS)) return null
  // SHAPE allows exactly three tags, told apart by their first letter (after "tsr_")
  const kind = KIND_BY_TAG_INITIAL[candidate.charAt(4)] as TokenKind
  return { kind, digest: digestToken(candidate) }
}

export const TOKEN_LENGTH = 'tsr_'.length + SECRET_CHARS + CHECKSUM_CHARS // plus the kind tag and '_'
