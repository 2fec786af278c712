import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ConfigError, EnvSchema, loadConfig } from '../../src/config.js'

describe('loadConfig', () => {
  it('gives API.md defaults for an empty environment, frozen', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      databaseUrl: undefined,
      dataDir: './.data',
      redisUrl: undefined,
      sessionTtlSeconds: 604_800,
      maxActiveTokensPerUser: 100,
      rateLimit: { max: 600, windowSeconds: 60, anonMax: 60, adminMax: null },
      login: { maxFailures: 10, failureWindowSeconds: 900 },
      argon2: { memoryKib: 19_456, timeCost: 2, parallelism: 1 },
      requireEmailVerification: false,
      smtpUrl: undefined,
      trustProxy: false,
      logLevel: 'info',
      bodyLimitBytes: 65_536,
      webUi: true,
      publicUrl: undefined,
    })
    expect(Object.isFrozen(config)).toBe(true)
    expect(Object.isFrozen(config.rateLimit)).toBe(true)
  })

  it('parses every variable', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      DATABASE_URL: 'postgres://u@db:5432/x',
      DATA_DIR: '/var/lib/tessera',
      REDIS_URL: 'redis://cache:6379',
      SESSION_TTL_SECONDS: '3600',
      MAX_ACTIVE_TOKENS_PER_USER: '5',
      RATE_LIMIT_MAX: '100',
      RATE_LIMIT_WINDOW_SECONDS: '30',
      RATE_LIMIT_ANON_MAX: '7',
      RATE_LIMIT_ADMIN_MAX: '1000',
      LOGIN_MAX_FAILURES: '3',
      LOGIN_FAILURE_WINDOW_SECONDS: '60',
      ARGON2_MEMORY_KIB: '4096',
      ARGON2_TIME_COST: '3',
      ARGON2_PARALLELISM: '2',
      REQUIRE_EMAIL_VERIFICATION: 'true',
      EMAIL_VERIFICATION_TTL_SECONDS: '600',
      PASSWORD_RESET_TTL_SECONDS: '900',
      SMTP_URL: 'smtp://mail:25',
      MAIL_FROM: 'Ops <ops@example.com>',
      TRUST_PROXY: 'TRUE',
      LOG_LEVEL: 'debug',
      BODY_LIMIT_BYTES: '2048',
      DATABASE_POOL_SIZE: '20',
      TOKEN_RETENTION_DAYS: '7',
      EVENT_RETENTION_DAYS: '30',
      MAIL_RETENTION_DAYS: '2',
      CLEANUP_INTERVAL_SECONDS: '0',
      MAIL_POLL_INTERVAL_SECONDS: '7',
      MAIL_MAX_PER_RECIPIENT_PER_HOUR: '3',
      SCOPES: 'orders:read=Read orders,orders:write',
      WEB_UI: 'false',
      PUBLIC_URL: 'https://auth.example.com/tessera',
    })
    expect(config).toEqual({
      host: '0.0.0.0',
      port: 8080,
      databaseUrl: 'postgres://u@db:5432/x',
      dataDir: '/var/lib/tessera',
      redisUrl: 'redis://cache:6379',
      sessionTtlSeconds: 3600,
      maxActiveTokensPerUser: 5,
      rateLimit: { max: 100, windowSeconds: 30, anonMax: 7, adminMax: 1000 },
      login: { maxFailures: 3, failureWindowSeconds: 60 },
      argon2: { memoryKib: 4096, timeCost: 3, parallelism: 2 },
      requireEmailVerification: true,
      scopes: { 'orders:read': 'Read orders', 'orders:write': 'orders:write' },
      webUi: false,
      publicUrl: 'https://auth.example.com/tessera',
      emailVerificationTtlSeconds: 600,
      passwordResetTtlSeconds: 900,
      smtpUrl: 'smtp://mail:25',
      mailFrom: 'Ops <ops@example.com>',
      trustProxy: 1,
      logLevel: 'debug',
      bodyLimitBytes: 2048,
      databasePoolSize: 20,
      tokenRetentionDays: 7,
      eventRetentionDays: 30,
      mailRetentionDays: 2,
      cleanupIntervalSeconds: 0,
      mailPollIntervalSeconds: 7,
      mailMaxPerRecipientPerHour: 3,
    })
  })

  it.each([
    ['false', false],
    ['0', false],
    ['true', 1],
    ['TRUE', 1],
    ['1', 1],
    ['3', 3],
    ['10.0.0.1', ['10.0.0.1']],
    [' 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32 ', ['10.0.0.0/8', '192.0.2.1', '2001:db8::/32']],
  ])('reads TRUST_PROXY=%j as %j', (value, expected) => {
    expect(loadConfig({ TRUST_PROXY: value }).trustProxy).toEqual(expected)
  })

  it('accepts SESSION_TTL_SECONDS from 1 second to a year', () => {
    expect(loadConfig({ SESSION_TTL_SECONDS: '1' }).sessionTtlSeconds).toBe(1)
    expect(loadConfig({ SESSION_TTL_SECONDS: '31536000' }).sessionTtlSeconds).toBe(31_536_000)
  })

  it('treats an empty value as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 3000, databaseUrl: undefined })
  })

  it.each([
    ['PORT', 'abc'],
    ['PORT', '3.5'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['REQUIRE_EMAIL_VERIFICATION', 'yes'],
    ['TRUST_PROXY', 'on'],
    ['TRUST_PROXY', '-1'],
    ['TRUST_PROXY', '101'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['TRUST_PROXY', '10.0.0.1,'],
    ['TRUST_PROXY', '10.0.0.1, proxy.internal'],
    ['TRUST_PROXY', '2001:db8::/129'],
    ['TRUST_PROXY', '10.0.0.0/8/8'],
    ['SESSION_TTL_SECONDS', '0'],
    ['SESSION_TTL_SECONDS', '31536001'],
    ['MAIL_MAX_PER_RECIPIENT_PER_HOUR', '0'],
    ['LOG_LEVEL', 'loud'],
    ['DATABASE_URL', 'mysql://x'],
    ['REDIS_URL', 'http://cache'],
    ['SMTP_URL', 'mail.example.com'],
    ['SESSION_TTL_SECONDS', '-60'],
    ['RATE_LIMIT_MAX', '-1'],
    ['RATE_LIMIT_ADMIN_MAX', '-5'],
    ['MAX_ACTIVE_TOKENS_PER_USER', '0'],
    ['ARGON2_MEMORY_KIB', '1e4'],
    ['BODY_LIMIT_BYTES', '0x100'],
    ['WEB_UI', 'maybe'],
    ['PUBLIC_URL', 'auth.example.com'],
    ['PUBLIC_URL', 'ftp://auth.example.com'],
    ['PUBLIC_URL', 'https://auth.example.com/?next=1'],
    ['PUBLIC_URL', 'https://auth.example.com/#x'],
  ])('throws a ConfigError naming %s for %j', (name, value) => {
    let thrown: unknown
    try {
      loadConfig({ [name]: value })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(ConfigError)
    expect((thrown as Error).message).toContain(name)
  })

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'abc', LOG_LEVEL: 'loud' })).toThrow(/PORT[\s\S]*LOG_LEVEL/)
  })
})

describe("the README's configuration table", () => {
  it('lists exactly the variables the schema reads', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const section = readme.slice(readme.indexOf('## Configuration'))
    const table = section.slice(0, section.indexOf('\n## '))
    const documented = table
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .flatMap((line) => [...(line.split('|')[1] ?? '').matchAll(/`([A-Z0-9_]+)`/g)].map((match) => match[1]))
    expect(documented.sort()).toEqual(Object.keys(EnvSchema.properties).sort())
  })
})

describe('server start-up with a bad value', () => {
  it('exits 1 with a message naming the variable', async () => {
    const child = spawn('npx', ['tsx', 'src/server.ts'], {
      env: { ...process.env, PORT: 'abc', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(code).toBe(1)
    expect(stderr).toMatch(/PORT/)
  }, 20_000)
})
