import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'
import { responseInProgress } from './node-http-internals.js'

// the deadline counts from the request's first byte: checked this often, so it holds to within a fifth
const CHECKS_PER_DEADLINE = 5

const API_HEADERS = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' }

/** A response in API.md's shape, written on the socket itself: no request handler is there to send it. */
function writeRaw (socket: Socket, error: ApiError) {
  const body = JSON.stringify(error.toBody())
  const head = [
    `HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(API_HEADERS).map(([name, value]) => `${name}: ${value}`),
    'connection: close',
  ]
  socket.write(`${head.join('\r\n')}\r\n\r\n${body}`)
  // closed once the answer is written: the rest of the request is never read
  socket.destroySoon()
}

const tooSlow = (deadlineMs: number) =>
  new ApiError('request_timeout', {
    message: `The request did not arrive within ${deadlineMs / 1000} seconds.`,
  })

/**
 * Node's refusals of a connection (fastify's `clientErrorHandler`), in API.md's shape: a request
 * past Node's `requestTimeout` (the deadline, set in app.ts) and HTTP that does not parse.
 * Answered only while no response has begun on the socket: anything else would corrupt it.
 */
export function clientErrorHandler (this: FastifyInstance, error: Error & { code?: string }, socket: Socket) {
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  this.log.info({ code: error.code }, 'connection refused by the HTTP parser or the request deadline')
  const response = responseInProgress(socket)
  if (!socket.writable || response?.headersSent === true) {
    socket.destroy()
    return
  }
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return writeRaw(socket, tooSlow(this.server.requestTimeout))
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    return writeRaw(socket, new ApiError('validation_failed', { statusCode: 431, message: 'The request headers are too large.' }))
  }
  writeRaw(socket, new ApiError('validation_failed', { message: 'The request is not valid HTTP.' }))
}

/**
 * Node's server options for the arriving half of the deadline (`http` in fastify's options):
 * Node reads them when the server is made, and checks its connections every interval.
 */
export function nodeDeadlineOptions (deadlineMs: number) {
  return {
    requestTimeout: deadlineMs,
    headersTimeout: deadlineMs,
    connectionsCheckingInterval: Math.max(1, Math.floor(deadlineMs / CHECKS_PER_DEADLINE)),
  }
}

export interface RequestDeadlineOptions {
  deadlineMs: number
}

/**
 * No hanging requests (API.md), two ways, neither with a timer per request:
 *
 * - Arriving: Node's `requestTimeout` (set in app.ts to the deadline) bounds the whole request,
 *   headers and body, from its first byte, so a client trickling a byte every few seconds cannot
 *   hold a socket: Node checks its connections every fifth of the deadline and
 *   `clientErrorHandler` answers 408.
 * - Being answered: postgres.js has no client-side query timeout, so during a network partition a
 *   query on an open connection waits forever, and so would its request. The HTTP socket's own
 *   idle timeout (fastify's `connectionTimeout`, the same deadline) answers 503 here and closes
 *   the connection when it has been silent that long, both ways, after its request arrived. Node
 *   re-arms that timer on every byte anyway, so it costs the hot path nothing, where a timer
 *   per request (fastify's `handlerTimeout`) or a list of the requests in flight costs about a
 *   third of Tessera's own work on an authenticated request.
 *
 * So a request is answered or closed within twice the deadline of its first byte. Requests made
 * with `app.inject` have no socket, so no deadline.
 */
async function requestDeadline (app: FastifyInstance, options: RequestDeadlineOptions) {
  app.server.on('timeout', (socket: Socket) => {
    const response = responseInProgress(socket)
    // an idle keep-alive connection, or an answer already under way: nothing left to say
    if (!response || response.headersSent) {
      socket.destroy()
      return
    }
    // a client silent in the middle of its own request
    if (!response.req.complete) {
      writeRaw(socket, tooSlow(options.deadlineMs))
      return
    }
    const error = new ApiError('service_unavailable', {
      message: 'The request took too long; the database may be unreachable. Try again shortly.',
    })
    app.log.error({ method: response.req.method, path: response.req.url?.split('?')[0] }, 'request deadline passed: answered 503')
    const body = JSON.stringify(error.toBody())
    // written directly: the request's own handler is still waiting, and will find it answered
    response.writeHead(error.statusCode, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...API_HEADERS,
      connection: 'close',
    })
    response.end(body)
  })
}

export default fp(requestDeadline, { name: 'request-deadline' })
