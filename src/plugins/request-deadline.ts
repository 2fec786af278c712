import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { ApiError } from '../errors.js'

/** Node's response in progress on a socket, if any (the documented `socket` has no accessor for it). */
export function responseInProgress (socket: Socket): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null
}

interface ConnectionsList { idle(): Array<{ socket?: Socket }> }

/**
 * The sockets on which Node's HTTP parser has no request begun: a kept-alive connection between
 * requests, or one whose request has been read whole (what `server.closeIdleConnections()`
 * destroys). A connection with part of a request, or with nothing yet (Node counts it busy
 * from the start, for its headers timeout), is not among them. Node keeps the list under a
 * private symbol; null if this Node has none.
 */
export function socketsWithNoRequestBegun (server: Server): Set<Socket> | null {
  const key = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'http.server.connections')
  const list = key === undefined ? undefined : (server as unknown as Record<symbol, ConnectionsList | undefined>)[key]
  if (typeof list?.idle !== 'function') return null
  return new Set(list.idle().flatMap((parser) => (parser.socket ? [parser.socket] : [])))
}

/**
 * No hanging requests (API.md): postgres.js has no client-side query timeout, so during a
 * network partition a query on an open connection waits forever, and so would its request.
 *
 * The deadline is the HTTP socket's own idle timeout (fastify's `connectionTimeout`, set in
 * app.ts to REQUEST_DEADLINE_MS): a request whose connection has been silent that long, both
 * ways, is answered 503 here and its connection closed. Node re-arms that timer on every request
 * and every byte anyway, so the deadline costs the hot path nothing. (fastify's `handlerTimeout`
 * does the same with an AbortController, a timer and a listener per request, and a list of the
 * requests in flight costs a hook and garbage-collector work per request: measured with
 * `npm run bench`, either was a third of all of Tessera's own work on an authenticated request.)
 * Requests made with `app.inject` have no socket, so no deadline.
 */
async function requestDeadline (app: FastifyInstance) {
  app.server.on('timeout', (socket: Socket) => {
    const response = responseInProgress(socket)
    // an idle keep-alive connection, a client silent in the middle of its own request (Node's
    // default: close it), or an answer already under way: nothing left to say
    if (!response || !response.req.complete || response.headersSent) {
      socket.destroy()
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
      connection: 'close',
    })
    response.end(body)
  })
}

export default fp(requestDeadline, { name: 'request-deadline' })
