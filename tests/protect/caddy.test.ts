import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe } from 'vitest'
import { describeForwardAuthProxy, findProxy, itShowsTheConfiguration, proxyPlace, runProxy } from '../helpers/forward-auth-proxy.js'

const CADDY = findProxy('Caddy', ['/usr/bin/caddy', '/usr/local/bin/caddy'], 'apt-get install caddy')
// the README's Caddyfile, as it is committed: only its addresses and scopes are this test's
const TEMPLATE = new URL('../../examples/caddy/Caddyfile', import.meta.url)

itShowsTheConfiguration('Caddy', TEMPLATE)

describe.runIf(CADDY)('Caddy', () => {
  describeForwardAuthProxy({
    name: 'Caddy',
    // forward_auth copies Tessera's headers into the API's request, not into the client's response
    ratelimitHeadersOnSuccess: false,
    async start (ports) {
      const { dir, port } = await proxyPlace('caddy')
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
      const config = ['--config', conf, '--adapter', 'caddyfile']
      return runProxy({ program: CADDY as string, check: ['validate', ...config], run: ['run', ...config], dir, port, env })
    },
  })
})
