#!/usr/bin/env node
// The operator CLI is TypeScript run through tsx (as `npm start` is), so there is no build step.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/cli.ts')
process.exitCode = await main(process.argv.slice(2))
