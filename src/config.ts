import { isIP } from 'node:net'
import { type Static, type TSchema, Type } from 'typebox'
import { Value } from 'typebox/value'

const Integer = (min: number, max: number, defaultValue?: number) =>
  Type.Integer({
    minimum: min,
    maximum: max,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  })

/**
 * Every environment variable Tessera reads, with its default. The README's configuration
 * table mirrors this schema; keep the two in sync.
 */
export const EnvSchema = Type.Object({
  HOST: Type.String({ minLength: 1, default: '127.0.0.1' }),
  PORT: Integer(0, 65535, 3000),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  DATA_DIR: Type.String({ minLength: 1, default: './.data' }),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  // from 1 second: a 2-second session is how people test their clients' expiry handling
  SESSION_TTL_SECONDS: Integer(1, 31_536_000, 604_800),
  MAX_ACTIVE_TOKENS_PER_USER: Integer(1, 100_000, 100),
  RATE_LIMIT_MAX: Integer(0, 1_000_000_000, 600),
  RATE_LIMIT_WINDOW_SECONDS: Integer(1, 86_400, 60),
  RATE_LIMIT_ANON_MAX: Integer(0, 1_000_000_000, 60),
  RATE_LIMIT_ADMIN_MAX: Type.Optional(Integer(0, 1_000_000_000)),
  LOGIN_MAX_FAILURES: Integer(1, 1_000_000, 10),
  LOGIN_FAILURE_WINDOW_SECONDS: Integer(1, 86_400, 900),
  ARGON2_MEMORY_KIB: Integer(1024, 4_194_304, 19_456),
  ARGON2_TIME_COST: Integer(1, 100, 2),
  ARGON2_PARALLELISM: Integer(1, 16, 1),
  REQUIRE_EMAIL_VERIFICATION: Type.Boolean({ default: false }),
  EMAIL_VERIFICATION_TTL_SECONDS: Integer(60, 2_592_000, 172_800),
  PASSWORD_RESET_TTL_SECONDS: Integer(60, 86_400, 1_800),
  SMTP_URL: Type.Optional(Type.String({ pattern: '^smtps?://' })),
  MAIL_FROM: Type.String({ minLength: 3, default: 'Tessera <no-reply@localhost>' }),
  MAIL_POLL_INTERVAL_SECONDS: Integer(0, 3600, 5),
  MAIL_MAX_PER_RECIPIENT_PER_HOUR: Integer(1, 100_000, 10),
  // false, a hop count (true = 1) or a list of addresses/CIDRs: parsed by parseTrustProxy
  TRUST_PROXY: Type.String({ minLength: 1, default: 'false' }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info' }
  ),
  BODY_LIMIT_BYTES: Integer(1024, 10_485_760, 65_536),
  DATABASE_POOL_SIZE: Integer(1, 200, 10),
  TOKEN_RETENTION_DAYS: Integer(0, 3650, 30),
  EVENT_RETENTION_DAYS: Integer(1, 36_500, 365),
  MAIL_RETENTION_DAYS: Integer(1, 3650, 30),
  CLEANUP_INTERVAL_SECONDS: Integer(0, 86_400, 3600),
})
export type Env = Static<typeof EnvSchema>

export interface Config {
  host: string
  port: number
  databaseUrl: string | undefined
  dataDir: string
  redisUrl: string | undefined
  sessionTtlSeconds: number
  maxActiveTokensPerUser: number
  rateLimit: {
    max: number
    windowSeconds: number
    anonMax: number
    adminMax: number | null
  }
  login: { maxFailures: number; failureWindowSeconds: number }
  argon2: { memoryKib: number; timeCost: number; parallelism: number }
  requireEmailVerification: boolean
  emailVerificationTtlSeconds: number
  passwordResetTtlSeconds: number
  smtpUrl: string | undefined
  mailFrom: string
  /** How often the mail worker looks for pending mail; 0 disables it (tests run it by hand). */
  mailPollIntervalSeconds: number
  /** Mails queued to one address (any case) in an hour at most; past it they are suppressed. */
  mailMaxPerRecipientPerHour: number
  /**
   * The proxies in front (API.md, Rate limits): false (none), a hop count, or the addresses and
   * CIDRs of the proxies. X-Forwarded-For entries past them are the client's to forge.
   */
  trustProxy: TrustProxy
  logLevel: string
  bodyLimitBytes: number
  databasePoolSize: number
  tokenRetentionDays: number
  eventRetentionDays: number
  mailRetentionDays: number
  /** 0 disables the in-process cleanup job (the CLI's prune commands still work). */
  cleanupIntervalSeconds: number
}

export type TrustProxy = false | number | readonly string[]

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const INTEGER = /^-?\d+$/
const BOOLEAN: Record<string, boolean> = { true: true, false: false, 1: true, 0: false }

/** Environment values are strings: convert strictly ("3.5" is not an integer, "yes" not a boolean). */
function convert (raw: string, schema: TSchema): unknown {
  const type = (schema as { type?: string }).type
  if (type === 'integer') return INTEGER.test(raw.trim()) ? Number(raw) : raw
  if (type === 'boolean') return BOOLEAN[raw.trim().toLowerCase()] ?? raw
  return raw
}

/** Parses and validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig (env: Record<string, string | undefined>): Config {
  const input: Record<string, unknown> = {}
  for (const [name, schema] of Object.entries(EnvSchema.properties)) {
    const raw = env[name]
    if (raw !== undefined && raw !== '') input[name] = convert(raw, schema as TSchema)
  }
  const values = Value.Default(EnvSchema, input) as Record<string, unknown>
  const problems = new Map<string, string>()
  for (const error of Value.Errors(EnvSchema, values)) {
    const name = error.instancePath.slice(1)
    if (!problems.has(name)) problems.set(name, `${name} ${describe(error.message, env[name])}`)
  }
  const trustProxy = parseTrustProxy(String(values.TRUST_PROXY))
  if (typeof trustProxy === 'string') problems.set('TRUST_PROXY', `TRUST_PROXY ${describe(trustProxy, env.TRUST_PROXY)}`)
  if (problems.size > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${[...problems.values()].join('\n  ')}`)
  }
  return toConfig(values as Env, trustProxy as TrustProxy)
}

const MAX_PROXY_HOPS = 100

/** TRUST_PROXY's value, or a message saying what is wrong with it. */
export function parseTrustProxy (raw: string): TrustProxy | string {
  const value = raw.trim().toLowerCase()
  if (value === 'false' || value === '0') return false
  if (value === 'true') return 1
  if (INTEGER.test(value)) {
    const hops = Number(value)
    return hops >= 1 && hops <= MAX_PROXY_HOPS ? hops : `must be a hop count from 0 to ${MAX_PROXY_HOPS}`
  }
  const entries = value.split(',').map((entry) => entry.trim())
  const bad = entries.find((entry) => !isAddressOrCidr(entry))
  if (bad !== undefined) {
    return `must be true, false, a hop count or a comma-separated list of IP addresses or CIDRs (${JSON.stringify(bad.slice(0, 45))} is none)`
  }
  return Object.freeze(entries)
}

function isAddressOrCidr (entry: string): boolean {
  const [address = '', prefix, ...rest] = entry.split('/')
  const version = isIP(address)
  if (version === 0 || rest.length > 0) return false
  if (prefix === undefined) return true
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128)
}

function describe (message: string, raw: string | undefined): string {
  const shown =
    raw === undefined ? '' : ` (got ${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}…` : raw)})`
  return `${message}${shown}`
}

function toConfig (env: Env, trustProxy: TrustProxy): Config {
  return Object.freeze({
    host: env.HOST,
    port: env.PORT,
    databaseUrl: env.DATABASE_URL,
    dataDir: env.DATA_DIR,
    redisUrl: env.REDIS_URL,
    sessionTtlSeconds: env.SESSION_TTL_SECONDS,
    maxActiveTokensPerUser: env.MAX_ACTIVE_TOKENS_PER_USER,
    rateLimit: Object.freeze({
      max: env.RATE_LIMIT_MAX,
      windowSeconds: env.RATE_LIMIT_WINDOW_SECONDS,
      anonMax: env.RATE_LIMIT_ANON_MAX,
      adminMax: env.RATE_LIMIT_ADMIN_MAX ?? null,
    }),
    login: Object.freeze({
      maxFailures: env.LOGIN_MAX_FAILURES,
      failureWindowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    }),
    argon2: Object.freeze({
      memoryKib: env.ARGON2_MEMORY_KIB,
      timeCost: env.ARGON2_TIME_COST,
      parallelism: env.ARGON2_PARALLELISM,
    }),
    requireEmailVerification: env.REQUIRE_EMAIL_VERIFICATION,
    emailVerificationTtlSeconds: env.EMAIL_VERIFICATION_TTL_SECONDS,
    passwordResetTtlSeconds: env.PASSWORD_RESET_TTL_SECONDS,
    smtpUrl: env.SMTP_URL,
    mailFrom: env.MAIL_FROM,
    mailPollIntervalSeconds: env.MAIL_POLL_INTERVAL_SECONDS,
    mailMaxPerRecipientPerHour: env.MAIL_MAX_PER_RECIPIENT_PER_HOUR,
    trustProxy,
    logLevel: env.LOG_LEVEL,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    tokenRetentionDays: env.TOKEN_RETENTION_DAYS,
    eventRetentionDays: env.EVENT_RETENTION_DAYS,
    mailRetentionDays: env.MAIL_RETENTION_DAYS,
    cleanupIntervalSeconds: env.CLEANUP_INTERVAL_SECONDS,
  })
}
