import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // the examples import the package by name: here, its source (CI also runs them on `npm pack`'s tarball)
  resolve: { alias: { tessera: fileURLToPath(new URL('src/plugin.ts', import.meta.url)) } },
  test: {
    include: ['tests/**/*.test.ts', 'examples/*/tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // the files mostly wait on PostgreSQL: three at once on the 2-core machine took the suite
    // from 430 s to 248 s (vitest's default is one fewer than the cores, here 1)
    maxWorkers: 3,
  },
})
