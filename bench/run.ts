/**
 * `npm run bench`: loads Tessera and two reference servers with autocannon on loopback, in one
 * run so that ratios are comparable (figures on a shared 2-core box swing ±30%; ratios less so).
 *
 *   (a) bare Fastify route        (b) SHA-256 + one prepared SELECT     (c) Tessera GET /v1/ping
 *
 * Then (c) against 10k and 1M token rows (must stay within 10%), a 60 s soak of (c)
 * (last 10 s within 10% of the first 10 s), and (c) with rate limiting on a Redis store.
 * Env: DATABASE_URL (a server; a fresh database is created on it) or none (embedded PostgreSQL),
 * BENCH_SECONDS (per target, default 10), BENCH_SOAK_SECONDS (default 60), REDIS_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import postgres from 'postgres'
import { createDb, runMigrations } from '../src/db/client.js'
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.js'
import { createBenchToken, seedTokensUpTo, seedUsers } from './seed.js'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 60)
const CONNECTIONS = 50

interface Figures {
  label: string
  rps: number
  p99: number
  /** CPU time the server process spent per request: steadier than req/s on a shared box. */
  cpuMicrosPerRequest: number
  non2xx: number
  errors: number
}

/** A PostgreSQL server for the run: DATABASE_URL's, or an embedded one in a temporary directory. */
async function withServer<T> (fn: (serverUrl: string) => Promise<T>): Promise<T> {
  if (process.env.DATABASE_URL) return fn(process.env.DATABASE_URL)
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'))
  await chmod(dir, 0o755)
  const embedded = await startEmbeddedPostgres(dir)
  try {
    return await fn(embedded.url)
  } finally {
    await embedded.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** A fresh, migrated database on the server, seeded with `tokens` rows and a bench token. */
async function seededDatabase (serverUrl: string, tokens: number) {
  const name = `tessera_bench_${tokens}_${Date.now()}`
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  await runMigrations(url.toString())
  const { sql, close } = createDb(url.toString())
  await seedUsers(sql)
  const token = await createBenchToken(sql)
  const rows = await seedTokensUpTo(sql, tokens)
  // settle the bulk insert (visibility map, dirty pages) so the first target does not pay for it
  await sql`vacuum analyze auth_tokens`
  await sql`checkpoint`
  await close()
  return {
    url: url.toString(),
    token,
    rows,
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

async function startTarget (kind: string, databaseUrl: string, env: Record<string, string> = {}) {
  const port = await freePort()
  // Tessera at its defaults (in-memory rate limiting) but with a budget the load never exhausts;
  // the Redis store is measured on its own below
  const { REDIS_URL: _unused, ...inherited } = process.env
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/target.ts', kind, String(port)],
    {
      env: { ...inherited, RATE_LIMIT_MAX: '1000000000', ...env, DATABASE_URL: databaseUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    }
  )
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`target ${kind} exited with ${code}`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve()
    })
  })
  return {
    url: `http://127.0.0.1:${port}/v1/ping`,
    pid: child.pid ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit')
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

const CLOCK_TICKS_PER_SECOND = 100 // USER_HZ on Linux

/** utime + stime of a process, in clock ticks (Linux /proc); 0 where unavailable. */
function cpuTicks (pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    return Number(fields[11]) + Number(fields[12])
  } catch {
    return 0
  }
}

async function load (
  label: string,
  url: string,
  token: string | null,
  seconds = SECONDS,
  pid = 0
): Promise<Figures> {
  const ticksBefore = cpuTicks(pid)
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  const ticks = cpuTicks(pid) - ticksBefore
  const figures = {
    label,
    cpuMicrosPerRequest: result.requests.total
      ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND / result.requests.total
      : 0,
    rps: Math.round(result.requests.average),
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
  console.log(
    `  ${label.padEnd(34)} ${String(figures.rps).padStart(7)} req/s   p99 ${String(figures.p99).padStart(4)} ms` +
      (pid ? `   cpu ${figures.cpuMicrosPerRequest.toFixed(0).padStart(3)} µs/req` : '') +
      (figures.non2xx || figures.errors
        ? `   (non-2xx ${figures.non2xx}: ${JSON.stringify(result.statusCodeStats)}, errors ${figures.errors})`
        : '')
  )
  return figures
}

async function measure (kind: string, label: string, databaseUrl: string, token: string | null, env = {}) {
  const target = await startTarget(kind, databaseUrl, env)
  try {
    await load(`${label} (warm-up)`, target.url, token, 3)
    return await load(label, target.url, token, SECONDS, target.pid)
  } finally {
    await target.stop()
  }
}

/** Runs the targets in turn, twice, and keeps each one's mean: drift on a shared box hits both sides. */
async function alternate (runs: Array<() => Promise<Figures>>): Promise<Figures[]> {
  const results: Figures[][] = runs.map(() => [])
  for (let round = 0; round < 2; round++) {
    for (const [i, run] of runs.entries()) results[i]?.push(await run())
  }
  return results.map((figures) => ({
    ...(figures[0] as Figures),
    rps: Math.round(figures.reduce((sum, f) => sum + f.rps, 0) / figures.length),
    cpuMicrosPerRequest: figures.reduce((sum, f) => sum + f.cpuMicrosPerRequest, 0) / figures.length,
    p99: Math.max(...figures.map((f) => f.p99)),
  }))
}

await withServer(async (serverUrl) => {
  console.log(`\nTessera benchmark: ${CONNECTIONS} connections, ${SECONDS} s per target, loopback`)
  const small = await seededDatabase(serverUrl, 10_000)
  const large = await seededDatabase(serverUrl, 1_000_000)
  console.log(`seeded: ${small.rows} and ${large.rows} rows in auth_tokens\n`)

  // first runs on a fresh database are slower (cold buffers): warm both before comparing anything
  for (const db of [small, large]) await measure('tessera', '(warm-up of the database)', db.url, db.token)
  const a = await measure('bare', '(a) bare Fastify', large.url, null)
  console.log('\nceiling and Tessera (alternating, two rounds)')
  const [b, c] = await alternate([
    () => measure('ceiling', '(b) SHA-256 + one SELECT', large.url, large.token),
    () => measure('tessera', '(c) Tessera GET /v1/ping', large.url, large.token),
  ])

  console.log('\ntoken table size (alternating, two rounds)')
  const [at10k, at1M] = await alternate([
    () => measure('tessera', '(c) @10k tokens', small.url, small.token),
    () => measure('tessera', '(c) @1M tokens', large.url, large.token),
  ])

  console.log('\nrate limiting (alternating, two rounds; Redis store, budget never reached)')
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const [off, on] = await alternate([
    () => measure('tessera', '(c) rate limiting off', large.url, large.token, { BENCH_RATE_LIMIT: 'off' }),
    () => measure('tessera', '(c) rate limiting on (Redis)', large.url, large.token, { REDIS_URL: redisUrl }),
  ])

  console.log(`\nsoak: (c) for ${SOAK_SECONDS} s at 1M tokens, in 10 s windows`)
  const target = await startTarget('tessera', large.url)
  const windows: Figures[] = []
  try {
    // like every other target, a short warm-up first: the soak looks for decay under sustained load
    await load('(warm-up)', target.url, large.token, 5)
    for (let i = 0; i < SOAK_SECONDS / 10; i++) { windows.push(await load(`window ${i + 1}`, target.url, large.token, 10, target.pid)) }
  } finally {
    await target.stop()
  }
  await small.drop()
  await large.drop()

  const first = windows[0]?.rps ?? 0
  const last = windows.at(-1)?.rps ?? 0
  const rows: Array<[string, number, number, number | null]> = [
    ['c/a (a bare route; the lookup is most of the cost)', c?.rps ?? 0, a.rps, null],
    ['c/b (Tessera around the one query)', c?.rps ?? 0, b?.rps ?? 0, 0.9],
    ['1M/10k tokens', at1M?.rps ?? 0, at10k?.rps ?? 0, 0.9],
    ['rate limiting on/off', on?.rps ?? 0, off?.rps ?? 0, 0.8],
    ['soak last/first 10 s', last, first, 0.9],
  ]
  const cpuB = b?.cpuMicrosPerRequest ?? 0
  const cpuC = c?.cpuMicrosPerRequest ?? 0
  console.log(
    `\nserver CPU per request: (b) ${cpuB.toFixed(0)} µs, (c) ${cpuC.toFixed(0)} µs: Tessera's own work ~${(cpuC - cpuB).toFixed(0)} µs`
  )
  console.log('\nratios')
  for (const [label, x, y, goal] of rows) {
    const value = y === 0 ? 0 : x / y
    const check = goal === null ? '' : `   goal >= ${goal.toFixed(2)}: ${value >= goal ? 'met' : 'NOT met'}`
    console.log(`  ${label.padEnd(52)} ${value.toFixed(2)}${check}`)
  }
})
