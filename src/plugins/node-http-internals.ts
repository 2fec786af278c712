import type { Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

/*
 * The two undocumented fields of Node's HTTP server that the request deadline
 * (request-deadline.ts) and graceful close (graceful-close.ts) read, and nothing else in src/.
 * Node's public API says neither what a socket is doing nor whether a request has begun on it,
 * and both plugins act on connections rather than on requests so that the hot path pays nothing.
 * Both fields are read, never written, and are as in Node 20 (lib/_http_server.js).
 *
 * - `socket._httpMessage`: the ServerResponse under way on a socket, set when Node hands the
 *   socket a response and cleared when that response is done. Without it, every socket looks
 *   idle: a request held past the deadline has its connection closed instead of answered 503 (or
 *   408), a refusal by the HTTP parser is written even after a response has begun, and shutdown
 *   closes connections whose response is under way instead of letting it finish.
 * - the server's `http.server.connections` symbol: Node's own list of its connections, whose
 *   `idle()` is what `server.closeIdleConnections()` destroys. Without it
 *   (socketsWithNoRequestBegun answers null), shutdown closes a connection whose request has
 *   partly arrived instead of waiting for it and answering.
 *
 * Either way no request hangs and the process still exits; what is lost is an answer.
 */

/** The response in progress on a socket, if any. */
export function responseInProgress (socket: Socket): ServerResponse | null {
  return (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage ?? null
}

interface ConnectionsList { idle(): Array<{ socket?: Socket }> }

/**
 * The sockets on which Node's HTTP parser has no request begun: a kept-alive connection between
 * requests, or one whose request has been read whole. A connection with part of a request, or
 * with nothing yet (Node counts it busy from the start, for its headers timeout), is not among
 * them. Null if this Node keeps no such list.
 */
export function socketsWithNoRequestBegun (server: Server): Set<Socket> | null {
  const key = Object.getOwnPropertySymbols(server).find((symbol) => symbol.description === 'http.server.connections')
  const list = key === undefined ? undefined : (server as unknown as Record<symbol, ConnectionsList | undefined>)[key]
  if (typeof list?.idle !== 'function') return null
  return new Set(list.idle().flatMap((parser) => (parser.socket ? [parser.socket] : [])))
}
