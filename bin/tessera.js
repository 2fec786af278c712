#!/usr/bin/env node
// The operator CLI: in a clone, the TypeScript source through tsx (as `npm start` runs it), so
// there is no build step and never a stale one; in an installed package (which ships dist/, not
// src/), the compiled one.
import { existsSync } from 'node:fs'

const source = new URL('../src/cli.ts', import.meta.url)
let main
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ main } = await import(source.href))
} else {
  ({ main } = await import(new URL('../dist/cli.js', import.meta.url).href))
}
process.exitCode = await main(process.argv.slice(2))
