import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify'
import type { Bindings, ChildLoggerOptions } from 'pino'

// Secrets that must never reach a log line, wherever a serializer might put them.
export const LOG_REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.secret',
]

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace'
type ChildOptions = ChildLoggerOptions
type ChildLoggerFactory = NonNullable<FastifyServerOptions['childLoggerFactory']>
type LevelAware = FastifyBaseLogger & { isLevelEnabled(level: string): boolean }

/**
 * A request's logger (`request.log`, bound to its reqId) that makes its pino child only when
 * something is written through it. fastify makes one child per request up front; on the hot
 * path, where nothing is logged through it, that child was a third of Tessera's own CPU time
 * per authenticated request (`npm run bench`). The lines written are the same either way.
 */
class RequestLogger {
  readonly #parent: LevelAware
  readonly #bindings: Bindings
  readonly #options: ChildOptions
  #child: FastifyBaseLogger | undefined

  constructor (parent: LevelAware, bindings: Bindings, options: ChildOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  #logger (): FastifyBaseLogger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  #write (level: Level, args: unknown[]) {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return
    ;(this.#logger()[level] as (...values: unknown[]) => void)(...args)
  }

  get level (): string {
    return this.#child?.level ?? this.#parent.level
  }

  set level (level: string) {
    this.#logger().level = level
  }

  fatal (...args: unknown[]) { this.#write('fatal', args) }
  error (...args: unknown[]) { this.#write('error', args) }
  warn (...args: unknown[]) { this.#write('warn', args) }
  info (...args: unknown[]) { this.#write('info', args) }
  debug (...args: unknown[]) { this.#write('debug', args) }
  trace (...args: unknown[]) { this.#write('trace', args) }
  silent () {}

  isLevelEnabled (level: string): boolean {
    return (this.#child as LevelAware | undefined ?? this.#parent).isLevelEnabled(level)
  }

  child (bindings: Bindings, options?: ChildOptions): FastifyBaseLogger {
    return this.#logger().child(bindings, options)
  }
}

/** fastify's `childLoggerFactory`: request loggers made on first use (see RequestLogger). */
export const lazyRequestLogger: ChildLoggerFactory = (logger, bindings, options) => {
  // fastify's placeholder logger (logging off) has no levels: nothing to defer
  if (typeof (logger as Partial<LevelAware>).isLevelEnabled !== 'function') return logger.child(bindings, options)
  return new RequestLogger(logger as LevelAware, bindings, options) as unknown as FastifyBaseLogger
}
