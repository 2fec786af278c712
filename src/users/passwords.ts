import { type Algorithm, hash, parseOptions, verify } from '@node-rs/argon2'
import { dictionary } from '@zxcvbn-ts/language-common'

export interface Argon2Cost {
  memoryKib: number
  timeCost: number
  parallelism: number
}

// Algorithm is a `declare const enum`, which isolatedModules cannot inline: 2 is Argon2id
const ARGON2ID = 2 as Algorithm.Argon2id

export const PASSWORD_MIN_LENGTH = 8
export const PASSWORD_MAX_LENGTH = 1024

/** Hashing and verification run on libuv's thread pool, so a login never stalls other requests. */
export function createPasswordHasher (cost: Argon2Cost) {
  const options = {
    algorithm: ARGON2ID,
    memoryCost: cost.memoryKib,
    timeCost: cost.timeCost,
    parallelism: cost.parallelism,
  }
  // verified against when the account does not exist, so that an unknown name costs the same
  // argon2 work as a wrong password and neither the answer nor its timing reveals which it was
  const dummyHash = hash('tessera-dummy-password', options)

  return {
    hash: (password: string) => hash(password, options),

    verify: async (passwordHash: string | null, password: string): Promise<boolean> => {
      if (passwordHash === null) {
        await verify(await dummyHash, password).catch(() => false)
        return false
      }
      return verify(passwordHash, password).catch(() => false)
    },

    /** True when the hash was made with other cost parameters: upgrade it at the next login. */
    needsRehash: (passwordHash: string): boolean => {
      try {
        const used = parseOptions(passwordHash)
        return (
          used.algorithm !== ARGON2ID ||
          used.memoryCost !== cost.memoryKib ||
          used.timeCost !== cost.timeCost ||
          used.parallelism !== cost.parallelism
        )
      } catch {
        return true
      }
    },
  }
}
export type PasswordHasher = ReturnType<typeof createPasswordHasher>

const COMMON_PASSWORDS = new Set(
  dictionary['passwords-common']
    .filter((word) => word.length >= PASSWORD_MIN_LENGTH)
    .map((w) => w.toLowerCase())
)

/** API.md's password rules beyond length (length is the schema's job); null when acceptable. */
export function passwordProblem (
  password: string,
  identity: { username: string; email: string }
): string | null {
  const lowered = password.toLowerCase()
  if (COMMON_PASSWORDS.has(lowered)) return 'is too common; choose a less guessable password'
  const username = identity.username.toLowerCase()
  const email = identity.email.toLowerCase()
  const localPart = email.split('@')[0] ?? ''
  if (lowered === username || lowered === email || lowered === localPart) {
    return 'must not be your username or email address'
  }
  return null
}
