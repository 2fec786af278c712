import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, inject, it } from 'vitest'

const PROBE = fileURLToPath(new URL('./fixtures/postgres-classes-probe.ts', import.meta.url))

// See src/db/postgres-v8-workaround.ts: on Node 20, without it, V8 never keeps an optimized
// version of postgres.js's query path, and an authenticated request costs a fifth more CPU.
it("lets V8 optimize postgres.js's Query and Result constructors in the pools createDb makes, and their queries answer", async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--allow-natives-syntax', '--import', 'tsx', PROBE],
      { env: { PATH: process.env.PATH, DATABASE_URL: inject('serverUrl') }, timeout: 30_000 },
      (error, out, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out))
    )
  })
  expect(JSON.parse(stdout)).toEqual({
    rows: [{ one: 1 }, { two: 2 }],
    fastProperties: { query: true, result: true },
    optimized: { query: true, result: true },
  })
})
