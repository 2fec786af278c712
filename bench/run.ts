/**
 * `npm run bench`: loads Tessera and two reference servers with autocannon on loopback, in one
 * run so that ratios are comparable (figures on a shared 2-core box swing ±30%; ratios less so).
 *
 *   (a) bare Fastify route        (b) SHA-256 + one prepared SELECT     (c) Tessera GET /v1/ping
 *
 * Then the token table grows from 10k to 1M rows (c must stay within 10%), a 60 s soak of (c)
 * (last 10 s within 10% of the first 10 s), and (c) with rate limiting on a Redis store.
 * Env: DATABASE_URL (a server; a fresh database is created on it) or none (embedded PostgreSQL),
 * BENCH_SECONDS (per target, default 10), BENCH_SOAK_SECONDS (default 60), REDIS_URL.
 */
import { type ChildProcess, spawn } from 'node:child_process'
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
  non2xx: number
  errors: number
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  if (process.env.DATABASE_URL) {
    const name = `tessera_bench_${Date.now()}`
    const admin = postgres(process.env.DATABASE_URL, { max: 1, onnotice: () => {} })
    await admin.unsafe(`create database ${name}`)
    const url = new URL(process.env.DATABASE_URL)
    url.pathname = `/${name}`
    try {
      return await fn(url.toString())
    } finally {
      await admin.unsafe(`drop database if exists ${name} with (force)`)
      await admin.end()
    }
  }
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

async function startTarget(kind: string, databaseUrl: string, env: Record<string, string> = {}) {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bench/target.ts', kind, String(port)], {
    env: { ...process.env, ...env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`target ${kind} exited with ${code}`)))
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve()
    })
  })
  return {
    url: `http://127.0.0.1:${port}/v1/ping`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.removeAllListeners('exit')
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      }),
  }
}

async function load(label: string, url: string, token: string | null, seconds = SECONDS): Promise<Figures> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  })
  const figures = {
    label,
    rps: Math.round(result.requests.average),
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  }
  console.log(
    `  ${label.padEnd(34)} ${String(figures.rps).padStart(7)} req/s   p99 ${String(figures.p99).padStart(4)} ms` +
      (figures.non2xx || figures.errors ? `   (non-2xx ${figures.non2xx}, errors ${figures.errors})` : ''),
  )
  return figures
}

async function measure(kind: string, label: string, databaseUrl: string, token: string | null, env = {}) {
  const target = await startTarget(kind, databaseUrl, env)
  try {
    await load(`${label} (warm-up)`, target.url, token, 2)
    return await load(label, target.url, token)
  } finally {
    await target.stop()
  }
}

const ratio = (x: number, y: number) => (y === 0 ? 'n/a' : (x / y).toFixed(2))
const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met')

await withDatabase(async (databaseUrl) => {
  await runMigrations(databaseUrl)
  const { sql, close } = createDb(databaseUrl)
  await seedUsers(sql)
  const token = await createBenchToken(sql)

  console.log(`\nTessera benchmark: ${CONNECTIONS} connections, ${SECONDS} s per target, loopback\n`)
  console.log(`auth_tokens: ${await seedTokensUpTo(sql, 10_000)} rows`)
  const small = await measure('tessera', '(c) Tessera ping @10k tokens', databaseUrl, token)

  console.log(`auth_tokens: ${await seedTokensUpTo(sql, 100_000)} rows`)
  const a = await measure('bare', '(a) bare Fastify', databaseUrl, null)
  const b = await measure('ceiling', '(b) SHA-256 + one SELECT', databaseUrl, token)
  const c = await measure('tessera', '(c) Tessera GET /v1/ping', databaseUrl, token)

  console.log(`auth_tokens: ${await seedTokensUpTo(sql, 1_000_000)} rows`)
  const large = await measure('tessera', '(c) Tessera ping @1M tokens', databaseUrl, token)
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const noLimit = await measure('tessera', '(c) rate limiting off', databaseUrl, token, {
    RATE_LIMIT_ENABLED: 'false',
  })
  const limited = await measure('tessera', '(c) rate limiting on (Redis)', databaseUrl, token, {
    REDIS_URL: redisUrl,
    RATE_LIMIT_MAX: '1000000000',
  })

  console.log(`\nsoak: (c) for ${SOAK_SECONDS} s at 1M tokens, in 10 s windows`)
  const target = await startTarget('tessera', databaseUrl)
  const windows: Figures[] = []
  try {
    for (let i = 0; i < SOAK_SECONDS / 10; i++) windows.push(await load(`window ${i + 1}`, target.url, token, 10))
  } finally {
    await target.stop()
  }
  await close()

  const first = windows[0]?.rps ?? 0
  const last = windows.at(-1)?.rps ?? 0
  console.log('\nratios')
  console.log(`  c/a  ${ratio(c.rps, a.rps)}   (the database lookup itself costs most of the bare route's speed)`)
  console.log(`  c/b  ${ratio(c.rps, b.rps)}   goal >= 0.90: ${verdict(c.rps / b.rps >= 0.9)}`)
  console.log(`  1M/10k tokens  ${ratio(large.rps, small.rps)}   goal >= 0.90: ${verdict(large.rps / small.rps >= 0.9)}`)
  console.log(
    `  rate limiting on/off  ${ratio(limited.rps, noLimit.rps)}   goal >= 0.80: ${verdict(limited.rps / noLimit.rps >= 0.8)}`,
  )
  console.log(`  soak last/first 10 s  ${ratio(last, first)}   goal >= 0.90: ${verdict(last / first >= 0.9)}`)
})
