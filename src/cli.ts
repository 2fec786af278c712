import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { TInteger } from 'typebox'
import { Value } from 'typebox/value'
import { CLI_ACTOR } from './admin/actor.js'
import * as admin from './admin/admin-service.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { createDb, runMigrations } from './db/client.js'
import { runningEmbeddedUrl, startEmbeddedPostgres } from './db/embedded.js'
import type { UserRow } from './db/schema.js'
import { CLEANUP_STEPS, type CleanupStep } from './maintenance/cleanup.js'
import type { Deps } from './deps.js'
import { readScopeCatalog } from './tokens/scope-declarations.js'
import { type CreateTokenBody, createTokenBodySchema } from './tokens/tokens-schemas.js'
import { createPersonalToken } from './tokens/tokens-service.js'
import { OverrideMax, OverrideWindowSeconds } from './rate-limits/rate-limits-schemas.js'
import * as rateLimits from './rate-limits/rate-limits-service.js'

const HELP = `Usage: tessera <command> [options]

The Tessera operator CLI. It uses the server's configuration (the same environment variables:
DATABASE_URL, or the embedded PostgreSQL under DATA_DIR) and the same rules as the admin API;
changes reach running servers at once.

Commands (<user> is a username or an email address):
  users promote <user>          make the user an admin
  users demote <user>           make the user a regular user
  users disable <user>          disable the account and revoke all its tokens
  users enable <user>           re-enable a disabled account
  rate-limit show <user>        the user's effective limit and where it comes from
  rate-limit set <user> --max <N|unlimited> [--window <seconds>]
                                override the user's limit (--max 0 refuses every request;
                                --window defaults to RATE_LIMIT_WINDOW_SECONDS)
  rate-limit clear <user>       remove the override (back to the role or default limit)
  tokens create <user> --name <name> --scopes <a,b> [--expires-in-days <D>]
                                create a personal token for the user (e.g. the tokens:introspect
                                token a gateway or service introspects with, for an admin) and
                                print its secret, once, on stdout; what it is goes to stderr
  tokens revoke-all <user>      revoke every token of the user
  tokens prune                  delete tokens expired or revoked more than
                                TOKEN_RETENTION_DAYS days ago
  events prune                  delete security events older than EVENT_RETENTION_DAYS days
  mail prune                    delete mails sent more than MAIL_RETENTION_DAYS days ago
                                (the server's cleanup job does all three every
                                CLEANUP_INTERVAL_SECONDS)

Options:
  -h, --help                    show this help

Exit status: 0 on success, 1 when the command fails (e.g. unknown user), 2 on bad usage.`

/** Bad input: the message and the usage hint go to stderr, exit status 2. */
class UsageError extends Error {}

export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
}

/** `rate-limit set`'s options, checked; the window defaults to RATE_LIMIT_WINDOW_SECONDS. */
interface LimitOptions {
  max: number | null
  windowSeconds: number | undefined
}

/** `tokens create`'s options, as typed: checked against the route's schema once the scopes are known. */
interface TokenOptions {
  name: string | undefined
  scopes: string | undefined
  expiresInDays: string | undefined
}

interface Context {
  deps: Deps
  io: CliIo
  limit: LimitOptions | undefined
  token: TokenOptions
}

type Handler = (context: Context, name: string) => Promise<void>

const describeUser = (user: UserRow) => `${user.username} <${user.email}>`

const describeLimit = (limit: rateLimits.EffectiveLimit) => {
  const source = { user: 'override', role: 'role default', default: 'default' }[limit.source]
  const budget =
    limit.max === null
      ? 'unlimited'
      : `${limit.max} request${limit.max === 1 ? '' : 's'} per ${limit.windowSeconds} s`
  return `${budget} (${source})`
}

function userChange (changes: admin.UserChanges, done: string): Handler {
  return async ({ deps, io }, name) => {
    const user = await admin.findUserByName(deps, name)
    const updated = await admin.updateUserAsAdmin(deps, CLI_ACTOR, user.id, changes)
    io.out(`${describeUser(updated)} ${done}.`)
  }
}

/** An option's value against the bounds of the route's schema, so the two never disagree. */
function integerOption (flag: string, raw: string, schema: TInteger, unit = 'an integer'): number {
  const value = /^\d+$/.test(raw) ? Number(raw) : raw
  if (Value.Check(schema, value)) return value as number
  const { minimum, maximum } = schema as { minimum?: number; maximum?: number }
  const alternative = flag === '--max' ? ', or "unlimited"' : ''
  throw new UsageError(`${flag} must be ${unit} from ${minimum} to ${maximum}${alternative} (got "${raw}")`)
}

function parseLimitOptions (values: { max?: string | undefined; window?: string | undefined }): LimitOptions {
  if (values.max === undefined) throw new UsageError('rate-limit set needs --max <N|unlimited>')
  return {
    max: values.max === 'unlimited' ? null : integerOption('--max', values.max, OverrideMax),
    windowSeconds:
      values.window === undefined
        ? undefined
        : integerOption('--window', values.window, OverrideWindowSeconds, 'a number of seconds'),
  }
}

const USER_COMMANDS: Record<string, Record<string, Handler>> = {
  users: {
    promote: userChange({ role: 'admin' }, 'is now an admin'),
    demote: userChange({ role: 'user' }, 'is now a regular user'),
    disable: userChange({ disabled: true }, 'is disabled; all their tokens are revoked'),
    enable: userChange({ disabled: false }, 'is enabled'),
  },
  'rate-limit': {
    show: async ({ deps, io }, name) => {
      const user = await admin.findUserByName(deps, name)
      const limit = await rateLimits.getUserLimit(deps, user.id)
      io.out(`${describeUser(user)}: ${describeLimit(limit)}`)
    },
    set: async ({ deps, io, limit: options }, name) => {
      // parseCommand has checked the options of `set`: they are there
      const { max, windowSeconds } = options as LimitOptions
      const override = { max, windowSeconds: windowSeconds ?? deps.config.rateLimit.windowSeconds }
      const user = await admin.findUserByName(deps, name)
      const limit = await rateLimits.setUserLimit(deps, CLI_ACTOR, user.id, override)
      io.out(`${describeUser(user)}: ${describeLimit(limit)}`)
    },
    clear: async ({ deps, io }, name) => {
      const user = await admin.findUserByName(deps, name)
      await rateLimits.clearUserLimit(deps, CLI_ACTOR, user.id)
      const limit = await rateLimits.getUserLimit(deps, user.id)
      io.out(`${describeUser(user)}: override removed; now ${describeLimit(limit)}`)
    },
  },
  tokens: {
    create: async ({ deps, io, token: options }, name) => {
      const user = await admin.findUserByName(deps, name)
      const body = tokenBody(deps, options)
      // the operator acts with everything the user's role allows (the route: what the caller's token holds)
      const creator = {
        userId: user.id,
        tokenId: 'cli',
        username: user.username,
        kind: 'cli',
        role: user.role,
        scopes: new Set(deps.scopes.forRole(user.role)),
        tokenBudget: null,
      }
      const created = await createPersonalToken(deps, creator, body, CLI_ACTOR)
      io.out(created.secret)
      const expires = created.row.expiresAt?.toISOString() ?? 'never'
      io.err(`Personal token ${created.row.id} "${created.row.name}" for ${describeUser(user)}, scopes ${created.row.scopes.join(' ')}, expires ${expires}. The secret above is shown once: store it now.`)
    },
    'revoke-all': async ({ deps, io }, name) => {
      const user = await admin.findUserByName(deps, name)
      const count = await admin.revokeAllTokensAsAdmin(deps, CLI_ACTOR, user.id)
      io.out(`${describeUser(user)}: ${count} active token${count === 1 ? '' : 's'} revoked.`)
    },
  },
}

const TOKEN_FLAGS: Record<string, string> = { name: '--name', scopes: '--scopes', expiresInDays: '--expires-in-days' }

/** `tokens create`'s body, checked with POST /v1/me/tokens's own schema, so the two never disagree. */
function tokenBody (deps: Deps, options: TokenOptions): CreateTokenBody {
  const days = options.expiresInDays
  const body = {
    name: options.name,
    scopes: options.scopes?.split(',').map((scope) => scope.trim()).filter((scope) => scope !== ''),
    ...(days === undefined ? {} : { expiresInDays: /^\d+$/.test(days) ? Number(days) : days }),
  }
  const schema = createTokenBodySchema(deps.scopes.list.map((scope) => scope.name))
  const [error] = Value.Errors(schema, body)
  if (error === undefined) return body as CreateTokenBody
  const field = error.instancePath.split('/')[1] ?? (error.params as { requiredProperties?: string[] }).requiredProperties?.[0]
  const flag = TOKEN_FLAGS[field ?? ''] ?? '--name'
  const known = flag === '--scopes' ? ` (the scopes: ${deps.scopes.list.map((scope) => scope.name).join(', ')})` : ''
  throw new UsageError(`tokens create: ${flag} ${error.message}${known}`)
}

/** `<step> prune`: one of the cleanup job's steps, with the server's retention settings. */
async function prune ({ deps, io }: Context, step: CleanupStep) {
  const count = await step.run(deps)
  io.out(`${count} deleted: ${step.removes}.`)
}

interface Parsed {
  run: (context: Context) => Promise<void>
  limit: LimitOptions | undefined
  token: TokenOptions
}

/** Everything about the command line is checked before any database is opened. */
function parseCommand (argv: string[]): Parsed | 'help' {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help || positionals.length === 0) return 'help'
  const token = { name: values.name, scopes: values.scopes, expiresInDays: values['expires-in-days'] }
  const [group = '', action, name, ...extra] = positionals
  const pruneStep = action === 'prune' ? CLEANUP_STEPS.find((step) => step.name === group) : undefined
  if (pruneStep) {
    if (name !== undefined) throw new UsageError(`${group} prune takes no arguments`)
    return { run: (context) => prune(context, pruneStep), limit: undefined, token }
  }
  const actions = USER_COMMANDS[group]
  if (!actions) throw new UsageError(`unknown command "${group}"`)
  const handler = action === undefined ? undefined : actions[action]
  if (!handler) {
    throw new UsageError(`"${group}" needs one of: ${Object.keys(actions).join(', ')}`)
  }
  if (name === undefined || name.trim() === '') throw new UsageError(`${group} ${action} needs a <user>`)
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
  const usesLimitOptions = group === 'rate-limit' && action === 'set'
  if (!usesLimitOptions && (values.max !== undefined || values.window !== undefined)) {
    throw new UsageError('--max and --window only apply to rate-limit set')
  }
  const createsToken = group === 'tokens' && action === 'create'
  if (!createsToken && Object.values(token).some((value) => value !== undefined)) {
    throw new UsageError('--name, --scopes and --expires-in-days only apply to tokens create')
  }
  const limit = usesLimitOptions ? parseLimitOptions(values) : undefined
  return { run: (context) => handler(context, name), limit, token }
}

function parse (argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      max: { type: 'string' },
      window: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'expires-in-days': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

/** The server's database: DATABASE_URL, the embedded one the server is running, or a fresh start. */
async function openDatabase (config: Config) {
  const running = config.databaseUrl ?? runningEmbeddedUrl(config.dataDir)
  const embedded = running ? null : await startEmbeddedPostgres(config.dataDir)
  const url = running ?? (embedded?.url as string)
  await runMigrations(url)
  const database = createDb(url, { poolSize: 2 })
  return {
    database,
    close: async () => {
      await database.close()
      await embedded?.stop()
    },
  }
}

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
}

/** Runs one command; returns the exit status. */
export async function main (
  argv: string[],
  env: Record<string, string | undefined> = process.env,
  io: CliIo = defaultIo
): Promise<number> {
  let command: Parsed | 'help'
  let config: Config
  try {
    command = parseCommand(argv)
    if (command === 'help') {
      io.out(HELP)
      return 0
    }
    config = loadConfig(env)
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`tessera: ${error.message}\nRun "tessera --help" for the commands.`)
      return 2
    }
    if (error instanceof ConfigError) {
      io.err(`tessera: ${error.message}`)
      return 1
    }
    throw error
  }
  try {
    const { database, close } = await openDatabase(config)
    try {
      // the CLI reads the declaration the server recorded; it never changes it (its environment may lack SCOPES)
      const deps = { database, config, now: () => new Date(), scopes: await readScopeCatalog(database.sql, config.scopes) }
      await command.run({ deps, io, limit: command.limit, token: command.token })
    } finally {
      await close()
    }
    return 0
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`tessera: ${error.message}`)
      return 2
    }
    // an ApiError's message is written for people; anything else (the database unreachable) too
    io.err(`tessera: ${error instanceof Error ? error.message : String(error)}`)
    return 1
  }
}

// run directly (`tsx src/cli.ts`, the npm script); bin/tessera.js imports main() instead
const invokedPath = process.argv[1] ? realpathSync(process.argv[1]) : ''
if (invokedPath === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
