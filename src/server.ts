import closeWithGrace from 'close-with-grace'
import pino from 'pino'
import { buildApp } from './app.js'
import { ConfigError, loadConfig } from './config.js'
import { openDatabase } from './db/open.js'
import { LOG_REDACT } from './logging.js'

/** The only reader of process.env and the only listen(). */
async function main () {
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig(process.env)
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    console.error(error.message)
    process.exit(1)
  }
  const logger = pino({ level: config.logLevel, redact: { paths: LOG_REDACT, censor: '[redacted]' } })

  const opened = await openDatabase(config, (message) => logger.info(message))
  if (opened.embedded) logger.info({ dataDir: config.dataDir }, 'using embedded PostgreSQL')
  const app = await buildApp({ config, database: opened.database, ownsDatabase: false, logger })

  // SIGTERM/SIGINT: stop accepting, finish in-flight requests, flush, close the pool, stop PostgreSQL
  closeWithGrace({ delay: 10_000, logger }, async ({ signal, err }) => {
    if (err) logger.error({ err }, 'shutting down after an error')
    else logger.info({ signal }, 'shutting down')
    await app.close()
    // only after app.close(): its onClose hooks still write (buffered last-use records)
    await opened.close()
  })

  await app.listen({ host: config.host, port: config.port })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
