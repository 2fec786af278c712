/**
 * `npm run bench`: loads Tessera and reference servers with autocannon on loopback, in one run
 * so that ratios are comparable.
 *
 *   (a) bare Fastify route        (b) SHA-256 + one prepared SELECT     (c) Tessera GET /v1/ping
 *   (b') b with Tessera's SELECT through its repository function   (c-) c without request limiting
 *   (h) a host app's route guarded by the tessera package, beside (c) and the other ways in
 *
 * Then (c) against 10k and 1M token rows (must stay within 10%), (c) with rate limiting on a
 * Redis store, and a 60 s soak of (c) (last 10 s within 10% of the first 10 s).
 *
 * Compared targets run side by side and take the load in turns, in short slices, in the order
 * ABBA…: this shared 2-core box drifts by ±30% within a minute, and a whole run per target
 * (tried first) measured the drift more than the targets. A slice's figures are its own; the
 * ratios are of the sums.
 * Env: DATABASE_URL (a server; a fresh database is created on it) or none (embedded PostgreSQL),
 * BENCH_SLICES (turns per target, default 10), BENCH_SLICE_SECONDS (default 3),
 * BENCH_SOAK_SECONDS (default 60), REDIS_URL,
 * BENCH_ONLY (a comma list of the sections to run: ceiling, protect, size, redis, soak; default all),
 * BENCH_COMPARE_REF (a git ref): every Tessera target of a section gets a twin "(c0) … at <ref>",
 * run from a temporary `git worktree` of that ref (with this checkout's node_modules) in the same
 * turns, and c/c0 is printed for each pair (throughput, and CPU per request): a change is measured
 * before and after in one run.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { chmod, mkdtemp, realpath, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import autocannon from 'autocannon'
import postgres from 'postgres'
import { createDb, runMigrations } from '../src/db/client.js'
import { freePort, startEmbeddedPostgres } from '../src/db/embedded.js'
import { createBenchToken, createIntrospectionToken, seedTokensUpTo, seedUsers } from './seed.js'

const SLICES = Number(process.env.BENCH_SLICES ?? 10)
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 3)
const WARM_UP_SECONDS = 3
const SOAK_SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 60)
const CONNECTIONS = 50
const SECTIONS = new Set((process.env.BENCH_ONLY ?? 'ceiling,protect,size,redis,soak').split(',').map((s) => s.trim()))
const COMPARE_REF = process.env.BENCH_COMPARE_REF

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
  const introspectionToken = await createIntrospectionToken(sql)
  const rows = await seedTokensUpTo(sql, tokens)
  // settle the bulk insert (visibility map, dirty pages) so the first target does not pay for it
  await sql`vacuum analyze auth_tokens`
  await sql`checkpoint`
  await close()
  return {
    url: url.toString(),
    token,
    introspectionToken,
    rows,
    drop: async () => {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    },
  }
}

/** A checkout of `ref` in a temporary git worktree, sharing this checkout's node_modules. */
async function checkoutOf (ref: string) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-ref-'))
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { stdio: 'ignore' })
  await symlink(await realpath('node_modules'), join(dir, 'node_modules'))
  return {
    dir,
    remove: () => execFileSync('git', ['worktree', 'remove', '--force', dir], { stdio: 'ignore' }),
  }
}

async function startTarget (kind: string, databaseUrl: string, env: Record<string, string> = {}, cwd?: string) {
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
      ...(cwd ? { cwd } : {}),
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

function report (figures: Figures, withCpu: boolean) {
  console.log(
    `  ${figures.label.padEnd(34)} ${String(figures.rps).padStart(7)} req/s   p99 ${String(figures.p99).padStart(4)} ms` +
      (withCpu ? `   cpu ${figures.cpuMicrosPerRequest.toFixed(0).padStart(3)} µs/req` : '') +
      (figures.non2xx || figures.errors ? `   (non-2xx ${figures.non2xx}, errors ${figures.errors})` : '')
  )
}

/** One target on its own for `seconds` (the bare route, the soak's windows). */
async function load (label: string, url: string, token: string | null, seconds: number, pid = 0): Promise<Figures> {
  const ticksBefore = cpuTicks(pid)
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers: authorization(token) })
  const ticks = cpuTicks(pid) - ticksBefore
  const figures = {
    label,
    cpuMicrosPerRequest: result.requests.total ? (ticks * 1e6) / CLOCK_TICKS_PER_SECOND / result.requests.total : 0,
    rps: Math.round(result.requests.average),
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
  report(figures, pid !== 0)
  return figures
}

type Target = Awaited<ReturnType<typeof startTarget>>

interface Contender {
  label: string
  kind: string
  databaseUrl: string
  token: string | null
  env?: Record<string, string>
  /** The checkout to run bench/target.ts from (BENCH_COMPARE_REF's); this one by default. */
  cwd?: string
  /** What to ask for, if not GET /v1/ping. */
  request?: { path: string; method: 'GET' | 'POST'; body?: string; contentType?: string }
}

/** autocannon's options for one contender's requests. */
const requestOf = (target: Target, c: Contender | undefined) => ({
  url: c?.request ? target.url.replace('/v1/ping', c.request.path) : target.url,
  connections: CONNECTIONS,
  method: c?.request?.method ?? 'GET',
  ...(c?.request?.body === undefined ? {} : { body: c.request.body }),
  headers: { ...authorization(c?.token ?? null), ...(c?.request?.contentType ? { 'content-type': c.request.contentType } : {}) },
})

/**
 * Starts the contenders side by side, warms each up, then loads them in turns (ABBA…) for
 * SLICES slices each; returns each one's figures over all its slices.
 */
async function compareInSlices (contenders: Contender[]): Promise<Figures[]> {
  const targets: Target[] = []
  try {
    for (const c of contenders) targets.push(await startTarget(c.kind, c.databaseUrl, c.env, c.cwd))
    for (const [i, c] of contenders.entries()) {
      await autocannon({ ...requestOf(targets[i] as Target, c), duration: WARM_UP_SECONDS })
    }
    const totals = contenders.map(() => ({ requests: 0, ticks: 0, p99s: [] as number[], non2xx: 0, errors: 0 }))
    for (let slice = 0; slice < SLICES; slice++) {
      const order = [...contenders.keys()]
      if (slice % 2 === 1) order.reverse()
      for (const i of order) {
        const target = targets[i] as Target
        const total = totals[i] as (typeof totals)[number]
        const ticksBefore = cpuTicks(target.pid)
        const result = await autocannon({ ...requestOf(target, contenders[i]), duration: SLICE_SECONDS })
        total.ticks += cpuTicks(target.pid) - ticksBefore
        total.requests += result.requests.total
        total.p99s.push(result.latency.p99)
        total.non2xx += result.non2xx
        total.errors += result.errors
      }
    }
    return contenders.map((c, i) => {
      const total = totals[i] as (typeof totals)[number]
      const figures = {
        label: c.label,
        rps: Math.round(total.requests / (SLICES * SLICE_SECONDS)),
        p99: median(total.p99s),
        cpuMicrosPerRequest: total.requests ? (total.ticks * 1e6) / CLOCK_TICKS_PER_SECOND / total.requests : 0,
        non2xx: total.non2xx,
        errors: total.errors,
      }
      report(figures, true)
      return figures
    })
  } finally {
    await Promise.all(targets.map((target) => target.stop()))
  }
}

const authorization = (token: string | null): Record<string, string> =>
  token ? { authorization: `Bearer ${token}` } : {}

function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

/**
 * compareInSlices, with BENCH_COMPARE_REF's twin of each Tessera contender in the same turns;
 * returns the contenders' figures and, in the same order, their twins' (undefined: no twin).
 */
async function compare (contenders: Contender[], baseline: string | undefined) {
  const twinned = baseline === undefined ? [] : [...contenders.keys()].filter((i) => contenders[i]?.kind === 'tessera')
  const twins = twinned.map((i) => ({ ...(contenders[i] as Contender), cwd: baseline }))
  for (const twin of twins) twin.label = `(c0) ${twin.label.replace(/^\(c-?\) /, '')} at ${COMPARE_REF}`
  const figures = await compareInSlices([...contenders, ...twins])
  const own = figures.slice(0, contenders.length)
  const then = contenders.map((_, i) => (twinned.includes(i) ? figures[contenders.length + twinned.indexOf(i)] : undefined))
  for (const [i, c] of own.entries()) {
    const c0 = then[i]
    if (!c0) continue
    console.log(
      `    c/c0 ${c.label}: throughput ${(c.rps / c0.rps).toFixed(3)}, ` +
        `cpu ${c.cpuMicrosPerRequest.toFixed(1)} vs ${c0.cpuMicrosPerRequest.toFixed(1)} µs/req (${(c.cpuMicrosPerRequest / c0.cpuMicrosPerRequest).toFixed(3)})`
    )
  }
  return { own, then }
}

await withServer(async (serverUrl) => {
  console.log(
    `\nTessera benchmark: ${CONNECTIONS} connections, loopback; compared targets in turns of ${SLICE_SECONDS} s, ${SLICES} each`
  )
  const small = await seededDatabase(serverUrl, 10_000)
  const large = await seededDatabase(serverUrl, 1_000_000)
  console.log(`seeded: ${small.rows} and ${large.rows} rows in auth_tokens\n`)
  const baseline = COMPARE_REF ? await checkoutOf(COMPARE_REF) : null
  const at = (db: typeof large, label: string, kind: string, env?: Record<string, string>): Contender => ({
    label,
    kind,
    databaseUrl: db.url,
    token: kind === 'bare' ? null : db.token,
    ...(env ? { env } : {}),
  })
  const rows: Array<[string, number, number, number | null]> = []
  const ratio = (label: string, x: Figures | undefined, y: Figures | undefined, goal: number | null = null) => {
    if (x && y) rows.push([label, x.rps, y.rps, goal])
  }
  const cpu = (f: Figures | undefined) => f?.cpuMicrosPerRequest ?? 0

  try {
    // first runs on a fresh database are slower (cold buffers): warm both before comparing anything
    for (const db of [small, large]) {
      const target = await startTarget('tessera', db.url)
      await load('(warm-up of the database)', target.url, db.token, WARM_UP_SECONDS)
      await target.stop()
    }

    if (SECTIONS.has('ceiling')) {
      const bare = await startTarget('bare', large.url)
      await load('(a) bare Fastify (warm-up)', bare.url, null, WARM_UP_SECONDS)
      const a = await load('(a) bare Fastify', bare.url, null, SLICES * SLICE_SECONDS, bare.pid)
      await bare.stop()

      console.log('\nceiling and Tessera, in turns')
      const { own: [b, bLookup, c, unlimited], then: [, , c0, unlimited0] } = await compare([
        at(large, '(b) SHA-256 + one SELECT', 'ceiling'),
        at(large, "(b') b via Tessera's repository", 'ceiling-lookup'),
        at(large, '(c) Tessera GET /v1/ping', 'tessera'),
        at(large, '(c-) c without request limiting', 'tessera', { BENCH_RATE_LIMIT: 'off' }),
      ], baseline?.dir)
      ratio('c/a (a bare route; the lookup is most of the cost)', c, a)
      ratio('c/b (Tessera around the one query)', c, b, 0.9)
      ratio("  b'/b (the SELECT through Tessera's repository)", bLookup, b)
      ratio("  c/b' (Tessera's code around that call)", c, bLookup)
      ratio("  c0/b' (the same at the compared ref)", c0, bLookup)
      ratio('  c-/b (c without request limiting)', unlimited, b)
      ratio('  c0-/b (the same at the compared ref)', unlimited0, b)
      console.log(
        `\nserver CPU per request: (b) ${cpu(b).toFixed(0)} µs, (b') ${cpu(bLookup).toFixed(0)} µs, (c) ${cpu(c).toFixed(0)} µs, ` +
          `(c-) ${cpu(unlimited).toFixed(0)} µs: Tessera's own work ~${(cpu(c) - cpu(b)).toFixed(0)} µs, ` +
          `of which request limiting ~${(cpu(c) - cpu(unlimited)).toFixed(0)} µs`
      )
    }

    if (SECTIONS.has('protect')) {
      console.log('\nprotecting other APIs, in turns (one target each, the same token)')
      const check = (label: string, request: Contender['request']) => ({ ...at(large, label, 'tessera'), request })
      const introspect = { ...at(large, '(i) POST /v1/introspect', 'tessera'), token: large.introspectionToken }
      const { own: [ping, hostRoute, forward, introspection] } = await compare([
        at(large, '(c) GET /v1/ping', 'tessera'),
        { ...at(large, '(h) a host route, tessera package', 'host'), request: { path: '/orders/42', method: 'GET' } },
        check('(f) GET /v1/auth/check', { path: '/v1/auth/check/orders/42', method: 'GET' }),
        { ...introspect, request: { path: '/v1/introspect', method: 'POST', body: `token=${large.token}`, contentType: 'application/x-www-form-urlencoded' } },
      ], undefined)
      console.log(
        `  CPU per request: ping ${cpu(ping).toFixed(1)} µs, host route ${cpu(hostRoute).toFixed(1)} µs ` +
          `(${(cpu(hostRoute) / cpu(ping)).toFixed(2)}x), auth/check ${cpu(forward).toFixed(1)} µs ` +
          `(${(cpu(forward) / cpu(ping)).toFixed(2)}x), introspect ${cpu(introspection).toFixed(1)} µs (${(cpu(introspection) / cpu(ping)).toFixed(2)}x)`
      )
      ratio('host route (package) / ping (throughput)', hostRoute, ping)
      ratio('auth/check / ping (throughput)', forward, ping)
      ratio('introspect / ping (throughput)', introspection, ping)
    }

    if (SECTIONS.has('size')) {
      console.log('\ntoken table size, in turns')
      const { own: [at10k, at1M], then: [then10k, then1M] } = await compare([
        at(small, '(c) @10k tokens', 'tessera'),
        at(large, '(c) @1M tokens', 'tessera'),
      ], baseline?.dir)
      ratio('1M/10k tokens', at1M, at10k, 0.9)
      ratio('  the same at the compared ref', then1M, then10k)
    }

    if (SECTIONS.has('redis')) {
      console.log('\nrate limiting, in turns (Redis store, budget never reached)')
      const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
      const { own: [off, on], then: [off0, on0] } = await compare([
        at(large, '(c) rate limiting off', 'tessera', { BENCH_RATE_LIMIT: 'off' }),
        at(large, '(c) rate limiting on (Redis)', 'tessera', { REDIS_URL: redisUrl }),
      ], baseline?.dir)
      ratio('rate limiting on/off', on, off, 0.8)
      ratio('  the same at the compared ref', on0, off0)
    }

    if (SECTIONS.has('soak')) {
      console.log(`\nsoak: (c) for ${SOAK_SECONDS} s at 1M tokens, in 10 s windows`)
      const target = await startTarget('tessera', large.url)
      const windows: Figures[] = []
      try {
        // like every other target, a short warm-up first: the soak looks for decay under sustained load
        await load('(warm-up)', target.url, large.token, 5)
        for (let i = 0; i < SOAK_SECONDS / 10; i++) windows.push(await load(`window ${i + 1}`, target.url, large.token, 10, target.pid))
      } finally {
        await target.stop()
      }
      ratio('soak last/first 10 s', windows.at(-1), windows[0], 0.9)
    }
  } finally {
    baseline?.remove()
    await small.drop()
    await large.drop()
  }

  console.log('\nratios')
  for (const [label, x, y, goal] of rows) {
    const value = y === 0 ? 0 : x / y
    const check = goal === null ? '' : `   goal >= ${goal.toFixed(2)}: ${value >= goal ? 'met' : 'NOT met'}`
    console.log(`  ${label.padEnd(52)} ${value.toFixed(2)}${check}`)
  }
})
