import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort } from '../../src/db/embedded.js'
import { describeForwardAuthProxy, waitForProxy } from '../helpers/forward-auth-proxy.js'

const CADDY = ['/usr/bin/caddy', '/usr/local/bin/caddy'].find((path) => existsSync(path))
if (!CADDY) {
  console.warn('[tessera tests] caddy is not installed: skipping the Caddy forward-auth test (apt-get install caddy)')
}
// the README's Caddyfile, as it is committed: only its addresses and scopes are this test's
const TEMPLATE = new URL('../../examples/caddy/Caddyfile', import.meta.url)

it('the README shows the Caddy configuration the test runs, word for word', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8')
  expect(readme).toContain((await readFile(TEMPLATE, 'utf8')).trimEnd())
})

describe.runIf(CADDY)('Caddy', () => {
  describeForwardAuthProxy({
    name: 'Caddy',
    // forward_auth copies Tessera's headers into the API's request, not into the client's response
    ratelimitHeadersOnSuccess: false,
    async start (ports) {
      const port = await freePort()
      const dir = await mkdtemp(join(tmpdir(), 'tessera-caddy-'))
      const site = (await readFile(TEMPLATE, 'utf8'))
        .replace('127.0.0.1:3000', `127.0.0.1:${ports.tessera}`)
        .replace('127.0.0.1:8080', `127.0.0.1:${ports.upstream}`)
        .replace('http://:8000 {', `http://127.0.0.1:${port} {`)
        .replace('X-Tessera-Scope "recipes:read"', 'X-Tessera-Scope ""')
      // the location a scope guards: the same handle block, for /api/admin/*, needing tokens:write
      const scoped = site.replace(/\thandle \/api\/\* \{[\s\S]*?\n\t\}\n/, (block) =>
        `${block.replace('handle /api/* {', 'handle /api/admin/* {').replace('X-Tessera-Scope ""', 'X-Tessera-Scope "tokens:write"')}\n${block}`)
      const conf = join(dir, 'Caddyfile')
      // this test's own: no admin endpoint, no certificates, state in its directory
      await writeFile(conf, `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}\n}\n${scoped}`)
      const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir }
      execFileSync(CADDY as string, ['validate', '--config', conf, '--adapter', 'caddyfile'], { stdio: 'pipe', env })
      const log: string[] = []
      const caddy: ChildProcess = spawn(CADDY as string, ['run', '--config', conf, '--adapter', 'caddyfile'], { env })
      caddy.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()))
      const base = `http://127.0.0.1:${port}`
      const stop = async () => {
        caddy.kill()
        await rm(dir, { recursive: true, force: true })
      }
      await waitForProxy(base, async () => log.join('')).catch(async (error) => {
        await stop()
        throw error
      })
      return { base, stop }
    },
  })
})
