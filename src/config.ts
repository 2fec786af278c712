import { isIP } from 'node:net'
import { type Static, type TSchema, Type } from 'typebox'
import { Value } from 'typebox/value'
import { BUILT_IN_SCOPES, isScopeName, SCOPE_NAME_PATTERN } from './tokens/scopes.js'

const Integer = (min: number, max: number, defaultValue?: number) =>
  Type.Integer({
    minimum: min,
    maximum: max,
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
  })

/**
 * One environment variable: its name, its schema, and how its checked value becomes the config's.
 * `I` is the value as given (the schema's), which the `tessera` plugin's option of that name takes.
 */
interface Variable<V, N extends string = string, I = unknown> {
  readonly name: N
  /** Type only: the value as given. */
  readonly input?: I
  readonly schema: TSchema
  readonly optional: boolean
  /** The config value from the checked one, or what is wrong with it that the schema cannot say. */
  readonly read: (value: unknown) => { value: V } | { problem: string }
}

const variable = <N extends string, S extends TSchema>(name: N, schema: S): Variable<Static<S>, N, Static<S>> => ({
  name,
  schema,
  optional: false,
  read: (value) => ({ value: value as Static<S> }),
})

/** A variable that may be unset: its value is then `absent`. */
const optional = <N extends string, S extends TSchema, A = undefined>(name: N, schema: S, absent?: A): Variable<Static<S> | A, N, Static<S>> => ({
  name,
  schema,
  optional: true,
  read: (value) => ({ value: (value === undefined ? absent : value) as Static<S> | A }),
})

/** A variable whose string value is parsed further; `parse` returns a problem as a string. */
const parsed = <N extends string, S extends TSchema, V>(name: N, schema: S, parse: (value: Static<S>) => V | string): Variable<V, N, Static<S>> => ({
  name,
  schema,
  optional: false,
  read: (value) => {
    const result = parse(value as Static<S>)
    return typeof result === 'string' ? { problem: result } : { value: result }
  },
})

/**
 * Every environment variable Tessera reads, where its value goes in Config, and its default:
 * Config's type, the checks and the defaults all follow from this table, so a new variable is one
 * line here (and one row in the README's configuration table, which a test compares with it).
 */
const SETTINGS = {
  host: variable('HOST', Type.String({ minLength: 1, default: '127.0.0.1' })),
  port: variable('PORT', Integer(0, 65535, 3000)),
  databaseUrl: optional('DATABASE_URL', Type.String({ pattern: '^postgres(ql)?://' })),
  dataDir: variable('DATA_DIR', Type.String({ minLength: 1, default: './.data' })),
  redisUrl: optional('REDIS_URL', Type.String({ pattern: '^rediss?://' })),
  // from 1 second: a 2-second session is how people test their clients' expiry handling
  sessionTtlSeconds: variable('SESSION_TTL_SECONDS', Integer(1, 31_536_000, 604_800)),
  maxActiveTokensPerUser: variable('MAX_ACTIVE_TOKENS_PER_USER', Integer(1, 100_000, 100)),
  rateLimit: {
    max: variable('RATE_LIMIT_MAX', Integer(0, 1_000_000_000, 600)),
    windowSeconds: variable('RATE_LIMIT_WINDOW_SECONDS', Integer(1, 86_400, 60)),
    anonMax: variable('RATE_LIMIT_ANON_MAX', Integer(0, 1_000_000_000, 60)),
    // unset: admins are unlimited (an EffectiveLimit's max null)
    adminMax: optional('RATE_LIMIT_ADMIN_MAX', Integer(0, 1_000_000_000), null),
  },
  login: {
    maxFailures: variable('LOGIN_MAX_FAILURES', Integer(1, 1_000_000, 10)),
    failureWindowSeconds: variable('LOGIN_FAILURE_WINDOW_SECONDS', Integer(1, 86_400, 900)),
  },
  argon2: {
    memoryKib: variable('ARGON2_MEMORY_KIB', Integer(1024, 4_194_304, 19_456)),
    timeCost: variable('ARGON2_TIME_COST', Integer(1, 100, 2)),
    parallelism: variable('ARGON2_PARALLELISM', Integer(1, 16, 1)),
  },
  requireEmailVerification: variable('REQUIRE_EMAIL_VERIFICATION', Type.Boolean({ default: false })),
  emailVerificationTtlSeconds: variable('EMAIL_VERIFICATION_TTL_SECONDS', Integer(60, 2_592_000, 172_800)),
  passwordResetTtlSeconds: variable('PASSWORD_RESET_TTL_SECONDS', Integer(60, 86_400, 1_800)),
  smtpUrl: optional('SMTP_URL', Type.String({ pattern: '^smtps?://' })),
  mailFrom: variable('MAIL_FROM', Type.String({ minLength: 3, default: 'Tessera <no-reply@localhost>' })),
  // 0 disables the mail worker's polling (tests run it by hand)
  mailPollIntervalSeconds: variable('MAIL_POLL_INTERVAL_SECONDS', Integer(0, 3600, 5)),
  // mails queued to one address (any case) in an hour at most; past it they are suppressed
  mailMaxPerRecipientPerHour: variable('MAIL_MAX_PER_RECIPIENT_PER_HOUR', Integer(1, 100_000, 10)),
  // the proxies in front (API.md, Rate limits): false (none), a hop count (true = 1), or the
  // addresses and CIDRs of the proxies; X-Forwarded-For entries past them are the client's to forge
  trustProxy: parsed('TRUST_PROXY', Type.String({ minLength: 1, default: 'false' }), (raw) => parseTrustProxy(raw)),
  // application scopes (API.md, Tokens): `name` or `name=description`, comma-separated
  scopes: parsed('SCOPES', Type.String({ default: '' }), (raw) => parseScopes(raw)),
  // the self-service web page under /account (API.md, The self-service web page)
  webUi: variable('WEB_UI', Type.Boolean({ default: true })),
  // where people reach that page, for the links in mails: a scheme and host, maybe a path, no query or fragment
  publicUrl: optional('PUBLIC_URL', Type.String({ pattern: '^https?://[^\\s/?#]+(/[^\\s?#]*)?$' })),
  logLevel: variable(
    'LOG_LEVEL',
    Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
      { default: 'info' }
    )
  ),
  bodyLimitBytes: variable('BODY_LIMIT_BYTES', Integer(1024, 10_485_760, 65_536)),
  databasePoolSize: variable('DATABASE_POOL_SIZE', Integer(1, 200, 10)),
  tokenRetentionDays: variable('TOKEN_RETENTION_DAYS', Integer(0, 3650, 30)),
  eventRetentionDays: variable('EVENT_RETENTION_DAYS', Integer(1, 36_500, 365)),
  mailRetentionDays: variable('MAIL_RETENTION_DAYS', Integer(1, 3650, 30)),
  // 0 disables the in-process cleanup job (the CLI's prune commands still work)
  cleanupIntervalSeconds: variable('CLEANUP_INTERVAL_SECONDS', Integer(0, 86_400, 3600)),
}

interface Settings {
  readonly [key: string]: Variable<unknown> | Settings
}

type ConfigOf<T> = { readonly [K in keyof T]: T[K] extends Variable<infer V, string> ? V : ConfigOf<T[K]> }

export type Config = ConfigOf<typeof SETTINGS>

/** RATE_LIMIT_MAX → rateLimitMax */
type CamelCase<S extends string> = S extends `${infer Head}_${infer Tail}`
  ? `${Lowercase<Head>}${Capitalize<CamelCase<Tail>>}`
  : Lowercase<S>

type VariableOf<T> = { [K in keyof T]: T[K] extends Variable<unknown, infer N, infer I> ? { name: N; input: I } : VariableOf<T[K]> }[keyof T]

/**
 * The variables that configure a server of Tessera's own, not Tessera inside a host app: there,
 * the host's Fastify options and logger decide them.
 */
const SERVER_ONLY = {
  HOST: 'the host app listens, not Tessera',
  PORT: 'the host app listens, not Tessera',
  TRUST_PROXY: "set Fastify's own trustProxy option on the host app",
  LOG_LEVEL: "Tessera logs through the host app's logger",
} as const

type ServerOnly = keyof typeof SERVER_ONLY

/**
 * The `tessera` plugin's options (API.md, Protecting your own API): every variable of the
 * configuration table but the server's own, in camelCase, taking the value the variable would
 * hold (`rateLimitMax: 600`, `requireEmailVerification: true`), and `scopes` as name → description.
 */
export type ConfigOptions = {
  readonly [V in Exclude<VariableOf<typeof SETTINGS>, { name: ServerOnly | 'SCOPES' }> as CamelCase<V['name']>]?: V['input']
} & { readonly scopes?: Readonly<Record<string, string>> }

export const optionName = (variableName: string) =>
  variableName.toLowerCase().replace(/_([a-z0-9])/g, (_match, next: string) => next.toUpperCase())

const isVariable = (entry: Variable<unknown> | Settings): entry is Variable<unknown> => 'read' in entry

function variablesOf (settings: Settings): Variable<unknown>[] {
  return Object.values(settings).flatMap((entry) => (isVariable(entry) ? [entry] : variablesOf(entry)))
}

const VARIABLES = variablesOf(SETTINGS)

/** The environment as the schema sees it, one property per variable (the README table lists them). */
export const EnvSchema = Type.Object(
  Object.fromEntries(VARIABLES.map((v) => [v.name, v.optional ? Type.Optional(v.schema) : v.schema]))
)

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
  return checkConfig(input, new Map(), (name) => name, (name) => env[name])
}

/**
 * Validates the `tessera` plugin's options as the environment is validated; throws a ConfigError
 * naming every bad option (and any that is not one).
 */
export function configFromOptions (options: ConfigOptions): Config {
  const byOption = new Map(VARIABLES.map((v) => [optionName(v.name), v]))
  const input: Record<string, unknown> = {}
  const problems = new Map<string, string>()
  for (const [key, value] of Object.entries(options as Record<string, unknown>)) {
    const name = byOption.get(key)?.name
    if (value === undefined || key === 'scopes') continue
    if (name === undefined || name === 'SCOPES') problems.set(key, `${key} is not an option of tessera`)
    else if (Object.hasOwn(SERVER_ONLY, name)) problems.set(key, `${key} is not an option of the plugin: ${SERVER_ONLY[name as ServerOnly]}`)
    else input[name] = value
  }
  const scopes = options.scopes === undefined ? {} : scopesFromOption(options.scopes)
  if (typeof scopes === 'string') problems.set('scopes', `scopes ${scopes}`)
  const config = checkConfig(input, problems, optionName, (name) => input[name])
  return Object.freeze({ ...config, scopes: scopes as Config['scopes'] })
}

function scopesFromOption (scopes: unknown): Readonly<Record<string, string>> | string {
  if (typeof scopes !== 'object' || scopes === null || Array.isArray(scopes)) return 'must be an object of scope name → description'
  const checked: Record<string, string> = {}
  for (const [name, description] of Object.entries(scopes)) {
    const problem = scopeNameProblem(name, checked)
    if (problem) return problem
    if (typeof description !== 'string') return `has ${JSON.stringify(name)} with a description that is not a string`
    checked[name] = description.trim() || name
  }
  return Object.freeze(checked)
}

/** The Config for `input` (one value per variable name); `label` names a variable in messages. */
function checkConfig (
  input: Record<string, unknown>,
  problems: Map<string, string>,
  label: (name: string) => string,
  given: (name: string) => unknown
): Config {
  const values = Value.Default(EnvSchema, input) as Record<string, unknown>
  const report = (name: string, problem: string) => {
    if (!problems.has(name)) problems.set(name, `${label(name)} ${describe(problem, given(name))}`)
  }
  for (const error of Value.Errors(EnvSchema, values)) report(error.instancePath.slice(1), error.message)
  const config = toConfig(SETTINGS, values, (variable, problem) => report(variable.name, problem))
  if (problems.size > 0) {
    throw new ConfigError(`Invalid configuration:\n  ${[...problems.values()].join('\n  ')}`)
  }
  return config as Config
}

/** The frozen Config tree for the checked `values`; problems the schema cannot see go to `report`. */
function toConfig (
  settings: Settings,
  values: Record<string, unknown>,
  report: (variable: Variable<unknown>, problem: string) => void
): unknown {
  const entries = Object.entries(settings).map(([key, entry]) => {
    if (!isVariable(entry)) return [key, toConfig(entry, values, report)]
    const read = entry.read(values[entry.name])
    if ('problem' in read) report(entry, read.problem)
    return [key, 'value' in read ? read.value : undefined]
  })
  return Object.freeze(Object.fromEntries(entries))
}

const MAX_PROXY_HOPS = 100

/** SCOPES's value as name → description, or a message saying what is wrong with it. */
export function parseScopes (raw: string): Readonly<Record<string, string>> | string {
  const scopes: Record<string, string> = {}
  for (const entry of raw.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const separator = entry.indexOf('=')
    const name = (separator === -1 ? entry : entry.slice(0, separator)).trim()
    const description = separator === -1 ? name : entry.slice(separator + 1).trim()
    const problem = scopeNameProblem(name, scopes)
    if (problem) return problem
    scopes[name] = description || name
  }
  return Object.freeze(scopes)
}

/** What is wrong with an application scope's name, if anything (the plugin's `scopes` too). */
export function scopeNameProblem (name: string, declaredSoFar: Readonly<Record<string, string>> = {}): string | null {
  const shown = JSON.stringify(name.slice(0, 70))
  if (!isScopeName(name)) return `has ${shown}, which is not a scope name (1-64 characters matching ${SCOPE_NAME_PATTERN})`
  if (name in BUILT_IN_SCOPES) return `has ${shown}, a built-in scope`
  if (Object.hasOwn(declaredSoFar, name)) return `has ${shown} twice`
  return null
}

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

function describe (message: string, given: unknown): string {
  if (given === undefined) return message
  const raw = typeof given === 'string' ? given : String(JSON.stringify(given))
  const shown = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw
  return `${message} (got ${typeof given === 'string' ? JSON.stringify(shown) : shown})`
}
