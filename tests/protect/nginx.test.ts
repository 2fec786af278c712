import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe } from 'vitest'
import { describeForwardAuthProxy, findProxy, itShowsTheConfiguration, proxyPlace, runProxy } from '../helpers/forward-auth-proxy.js'

const NGINX = findProxy('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx'], 'apt-get install nginx-light')
// the README's configuration, as it is committed: only its addresses are this test's
const TEMPLATE = new URL('../../examples/nginx/tessera.conf', import.meta.url)

itShowsTheConfiguration('nginx', TEMPLATE)

describe.runIf(NGINX)('nginx', () => {
  describeForwardAuthProxy({
    name: 'nginx',
    ratelimitHeadersOnSuccess: true,
    async start (ports) {
      const { dir, port } = await proxyPlace('nginx')
      const server = (await readFile(TEMPLATE, 'utf8'))
        .replace('127.0.0.1:3000', `127.0.0.1:${ports.tessera}`)
        .replace('127.0.0.1:8080', `127.0.0.1:${ports.upstream}`)
        .replace('127.0.0.1:8000', `127.0.0.1:${port}`)
        // the location a scope guards, as the README shows it
        .replace('location /api/ {\n        # the scope this location needs; "" accepts any valid token\n        set $tessera_scope "";',
          'location /api/ {\n        set $tessera_scope "";')
      const scoped = server.replace(/ {4}location \/api\/ \{[\s\S]*?\n {4}\}\n/, (block) =>
        `${block}\n${block.replace('location /api/ {', 'location /api/admin/ {').replace('set $tessera_scope "";', 'set $tessera_scope "tokens:write";')}`)
      const conf = join(dir, 'nginx.conf')
      await writeFile(conf, `daemon off;\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n${scoped}\n}\n`)
      return runProxy({ program: NGINX as string, check: ['-t', '-p', dir, '-c', conf], run: ['-p', dir, '-c', conf], dir, port })
    },
  })
})
