import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, inject, it } from 'vitest'

const PROBE = fileURLToPath(new URL('./fixtures/postgres-classes-probe.ts', import.meta.url))

// See makePostgresClassesFast (src/db/client.ts): without it, V8 never keeps an optimized
// version of postgres.js's query path, and an authenticated request costs a fifth more CPU.
it("leaves postgres.js's Query and Result classes with fast properties, so V8 can optimize the query path", async () => {
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      ['--allow-natives-syntax', '--import', 'tsx', PROBE],
      { env: { PATH: process.env.PATH, DATABASE_URL: inject('serverUrl') }, timeout: 30_000 },
      (error, out, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(out))
    )
  })
  // the control, declared as those classes are (a static Symbol.species getter), is left in
  // dictionary mode by V8 11 (Node 20): the probe sees the difference. On a V8 where it is not,
  // the workaround can go.
  expect(JSON.parse(stdout)).toEqual({ query: true, result: true, control: false })
})
