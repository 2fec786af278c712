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
const KIND_BY_TAG = Object.fromEntries(
  Object.entries(TOKEN_KINDS).map(([kind, tag]) => [tag, kind])
) as Record<string, TokenKind>

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

function checksum (payload: string): string {
  const bytes = Buffer.alloc(4)
  bytes.writeUInt32BE(crc32(payload))
  return bytes.toString('base64url')
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
  const payloadLength = candidate.length - CHECKSUM_CHARS
  if (checksum(candidate.slice(0, payloadLength)) !== candidate.slice(payloadLength)) return null
  // SHAPE allows only the three tags, so the lookup always finds one
  const kind = KIND_BY_TAG[candidate.slice(4, candidate.indexOf('_', 4))] as TokenKind
  return { kind, digest: digestToken(candidate) }
}

export const TOKEN_LENGTH = 'tsr_'.length + SECRET_CHARS + CHECKSUM_CHARS // plus the kind tag and '_'
