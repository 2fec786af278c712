import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CLI_ACTOR } from './admin/actor.js'
import * as admin from './admin/admin-service.js'
import { type Config, ConfigError, loadConfig } from './config.js'
import { createDb, type Database, runMigrations } from './db/client.js'
import { runningEmbeddedUrl, startEmbeddedPostgres } from './db/embedded.js'
import type { UserRow } from './db/schema.js'
import { CLEANUP_STEPS, type CleanupStep } from './maintenance/cleanup.js'
import { MAX_WINDOW_SECONDS } from './rate-limits/rate-limits-schemas.js'
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

interface Context {
  config: Config
  database: Database
  io: CliIo
  options: { max?: string | undefined; window?: string | undefined }
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

const deps = (context: Context) => ({ database: context.database, now: () => new Date() })
const limitDeps = (context: Context) => ({ ...deps(context), settings: context.config.rateLimit })

function userChange (changes: admin.UserChanges, done: string): Handler {
  return async (context, name) => {
    const user = await admin.findUserByName(deps(context), name)
    const updated = await admin.updateUserAsAdmin(deps(context), CLI_ACTOR, user.id, changes)
    context.io.out(`${describeUser(updated)} ${done}.`)
  }
}

function parseMax (raw: string | undefined): number | null {
  if (raw === undefined) throw new UsageError('rate-limit set needs --max <N|unlimited>')
  if (raw === 'unlimited') return null
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 1_000_000_000) {
    throw new UsageError(`--max must be an integer from 0 to 1000000000, or "unlimited" (got "${raw}")`)
  }
  return Number(raw)
}

function parseWindow (raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback
  const seconds = /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(seconds >= 1 && seconds <= MAX_WINDOW_SECONDS)) {
    throw new UsageError(
      `--window must be a number of seconds from 1 to ${MAX_WINDOW_SECONDS} (got "${raw}")`
    )
  }
  return seconds
}

const USER_COMMANDS: Record<string, Record<string, Handler>> = {
  users: {
    promote: userChange({ role: 'admin' }, 'is now an admin'),
    demote: userChange({ role: 'user' }, 'is now a regular user'),
    disable: userChange({ disabled: true }, 'is disabled; all their tokens are revoked'),
    enable: userChange({ disabled: false }, 'is enabled'),
  },
  'rate-limit': {
    show: async (context, name) => {
      const user = await admin.findUserByName(deps(context), name)
      const limit = await rateLimits.getUserLimit(limitDeps(context), user.id)
      context.io.out(`${describeUser(user)}: ${describeLimit(limit)}`)
    },
    set: async (context, name) => {
      const override = {
        max: parseMax(context.options.max),
        windowSeconds: parseWindow(context.options.window, context.config.rateLimit.windowSeconds),
      }
      const user = await admin.findUserByName(deps(context), name)
      const limit = await rateLimits.setUserLimit(limitDeps(context), CLI_ACTOR, user.id, override)
      context.io.out(`${describeUser(user)}: ${describeLimit(limit)}`)
    },
    clear: async (context, name) => {
      const user = await admin.findUserByName(deps(context), name)
      await rateLimits.clearUserLimit(limitDeps(context), CLI_ACTOR, user.id)
      const limit = await rateLimits.getUserLimit(limitDeps(context), user.id)
      context.io.out(`${describeUser(user)}: override removed; now ${describeLimit(limit)}`)
    },
  },
  tokens: {
    'revoke-all': async (context, name) => {
      const user = await admin.findUserByName(deps(context), name)
      const count = await admin.revokeAllTokensAsAdmin(deps(context), CLI_ACTOR, user.id)
      context.io.out(`${describeUser(user)}: ${count} active token${count === 1 ? '' : 's'} revoked.`)
    },
  },
}

/** `<step> prune`: one of the cleanup job's steps, with the server's retention settings. */
async function prune (context: Context, step: CleanupStep) {
  const count = await step.run(context.database, context.config, new Date())
  context.io.out(`${count} deleted: ${step.removes}.`)
}

interface Parsed {
  run: (context: Context) => Promise<void>
  options: Context['options']
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
  const [group = '', action, name, ...extra] = positionals
  const pruneStep = action === 'prune' ? CLEANUP_STEPS.find((step) => step.name === group) : undefined
  if (pruneStep) {
    if (name !== undefined) throw new UsageError(`${group} prune takes no arguments`)
    return { run: (context) => prune(context, pruneStep), options: values }
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
  if (usesLimitOptions) parseMax(values.max)
  return { run: (context) => handler(context, name), options: values }
}

function parse (argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      max: { type: 'string' },
      window: { type: 'string' },
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
      await command.run({ config, database, io, options: command.options })
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
