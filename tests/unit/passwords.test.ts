import { describe, expect, it } from 'vitest'
import { createPasswordHasher, passwordProblem } from '../../src/users/passwords.js'

const CHEAP = { memoryKib: 1024, timeCost: 1, parallelism: 1 }

describe('password hasher', () => {
  const hasher = createPasswordHasher(CHEAP)

  it('hashes with argon2id and verifies only the right password', async () => {
    const hash = await hasher.hash('correct horse battery staple')
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/)
    expect(hash).not.toContain('correct horse')
    expect(await hasher.verify(hash, 'correct horse battery staple')).toBe(true)
    expect(await hasher.verify(hash, 'correct horse battery stapler')).toBe(false)
  })

  it('salts: the same password hashes differently each time', async () => {
    expect(await hasher.hash('same-password-1')).not.toBe(await hasher.hash('same-password-1'))
  })

  it('answers false for an unknown user (dummy hash), whatever the password', async () => {
    expect(await hasher.verify(null, 'tessera-dummy-password')).toBe(false)
    expect(await hasher.verify(null, 'anything at all')).toBe(false)
  })

  it('answers false, not an exception, for a corrupt stored hash', async () => {
    expect(await hasher.verify('not-a-hash', 'whatever')).toBe(false)
  })

  it('asks for a rehash when the cost parameters change, not otherwise', async () => {
    const hash = await hasher.hash('some password here')
    expect(hasher.needsRehash(hash)).toBe(false)
    expect(createPasswordHasher({ ...CHEAP, memoryKib: 2048 }).needsRehash(hash)).toBe(true)
    expect(createPasswordHasher({ ...CHEAP, timeCost: 2 }).needsRehash(hash)).toBe(true)
    expect(createPasswordHasher({ ...CHEAP, parallelism: 2 }).needsRehash(hash)).toBe(true)
    expect(hasher.needsRehash('garbage')).toBe(true)
  })

  it('verifies a hash made with older cost parameters (so it can be upgraded)', async () => {
    const old = await createPasswordHasher({ ...CHEAP, memoryKib: 2048 }).hash('an older password')
    expect(await hasher.verify(old, 'an older password')).toBe(true)
  })
})

describe('passwordProblem', () => {
  const identity = { username: 'Alice_1', email: 'Alice.Smith@example.com' }

  it.each(['password', 'PASSWORD1', 'qwertyuiop', '12345678'])(
    'refuses the common password %j',
    (password) => {
      expect(passwordProblem(password, identity)).toMatch(/common/)
    }
  )

  it.each(['alice_1', 'ALICE_1', 'alice.smith@example.com', 'alice.smith'])(
    'refuses %j: the username or email',
    (password) => {
      expect(passwordProblem(password, identity)).toMatch(/username or email/)
    }
  )

  it('accepts an uncommon password unrelated to the account', () => {
    expect(passwordProblem('Tessera-unit-test-7f3a!', identity)).toBeNull()
  })
})
