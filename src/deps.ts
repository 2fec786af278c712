import type { Config } from './config.js'
import type { Database } from './db/client.js'
import type { LoginThrottle } from './rate-limits/login-throttle.js'
import type { ScopeCatalog } from './tokens/scopes.js'
import type { PasswordHasher } from './users/passwords.js'

/**
 * What every service takes first: the database, the clock and the configuration, passed in so
 * that tests control time and settings. The mail cap comes from `config`, so a mail queued
 * without it is a type error, not a silent fall back to the default.
 */
export interface Deps {
  database: Database
  now: () => Date
  config: Config
  /** The built-in and declared scopes, with their retirements (tokens/scope-declarations.ts). */
  scopes: ScopeCatalog
}

/** The services that check passwords add the hasher and the failed-login throttle. */
export interface AccountDeps extends Deps {
  passwords: PasswordHasher
  /** Failed-login throttling per account name (absent: none, as in the CLI). */
  loginThrottle?: LoginThrottle | undefined
}
