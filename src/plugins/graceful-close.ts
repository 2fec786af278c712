import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { responseInProgress, socketsWithNoRequestBegun } from './node-http-internals.js'

/**
 * How long a connection accepted before closing began, on which nothing has arrived yet, has to
 * send its request. A client writes its request as soon as it connects, so its bytes are usually
 * in flight or unread in the kernel; a client silent this long is not going to send one.
 */
export const FIRST_REQUEST_GRACE_MS = 2_000

/** The longest closing keeps listening to take in the connections the kernel has queued. */
export const BACKLOG_LIMIT_MS = 1_000

/**
 * The longest closing waits for connections, from its start, before it closes what is left. Every request is
 * bounded by the request deadline (REQUEST_DEADLINE_MS, 5 s), so this only cuts a client that
 * keeps a connection busy past it; it leaves the onClose hooks (last-use flush, pool, embedded
 * PostgreSQL) time to finish inside close-with-grace's 10 s delay (server.ts), so the exit is 0.
 */
export const DRAIN_LIMIT_MS = 7_000

/**
 * Shutdown that answers every request the server has accepted, and that no client can hold up.
 *
 * Node's server.close() starts with closeIdleConnections(), which destroys the connections whose
 * parser has no request begun, and whose response, if any, has been ended (even while it is still
 * being written to a slow reader). It counts a connection that has sent nothing yet as busy, so
 * a silent client would hold the shutdown up to the socket's 5 s timeout. For that one call it
 * is replaced, connection by connection:
 * - a response still to be written gets `Connection: close`; one whose headers had already gone
 *   as keep-alive is closed as soon as it is written (keepAliveTimeout 1 ms, below);
 * - a connection that has sent nothing yet gets FIRST_REQUEST_GRACE_MS to send its request, which
 *   is then answered, and is closed after that if still silent;
 * - a request partly received is left to arrive. fastify answers every request routed after
 *   closing began (app.ts turns its 503 off) with `Connection: close`;
 * - a kept-alive connection between requests is closed at once.
 * A silent client mid-request is cut by the request deadline (request-deadline.ts), and
 * anything still open after DRAIN_LIMIT_MS is closed.
 *
 * Connections are tracked as they open, not requests as they come, so the hot path pays nothing
 * (not even an onSend hook checking a flag).
 */
async function gracefulClose (app: FastifyInstance) {
  const sockets = new Set<Socket>()
  let accepted = 0
  app.server.on('connection', (socket: Socket) => {
    accepted++
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })

  let closing = false
  const closeForShutdown = () => {
    if (closing) return
    closing = true
    const noRequestBegun = socketsWithNoRequestBegun(app.server)
    const silent: Socket[] = []
    for (const socket of sockets) {
      const response = responseInProgress(socket)
      if (response) {
        if (!response.headersSent) response.setHeader('connection', 'close')
      } else if (socket.bytesRead === 0) {
        silent.push(socket)
      } else if (noRequestBegun !== null && !noRequestBegun.has(socket)) {
        // a request partly received: answered once it has arrived
      } else {
        socket.destroy()
      }
    }
    const grace = setTimeout(() => {
      for (const socket of silent) if (socket.bytesRead === 0) socket.destroy()
    }, FIRST_REQUEST_GRACE_MS).unref()
    app.server.once('close', () => clearTimeout(grace))
  }

  app.addHook('preClose', (done) => {
    // fastify calls server.close() right after the preClose hooks
    app.server.closeIdleConnections = closeForShutdown
    // read by Node as each response finishes: a socket left idle then times out at once and is
    // closed (by request-deadline.ts's timeout handler, or by Node)
    app.server.keepAliveTimeout = 1
    const drainLimit = setTimeout(() => {
      if (sockets.size === 0) return
      app.log.warn({ connections: sockets.size, ms: DRAIN_LIMIT_MS }, 'connections still busy when closing: closed')
      for (const socket of sockets) socket.destroy()
    }, DRAIN_LIMIT_MS).unref()
    app.server.once('close', () => clearTimeout(drainLimit))
    if (!app.server.listening) {
      done()
      return
    }
    // The kernel completes a client's handshake before Node accepts the connection, and a busy
    // Node accepts one connection per event-loop turn: closing the listener resets every
    // connection still queued, whose client has already sent its request. So listening goes on
    // until a whole turn accepts nothing (the listener is polled every turn: nothing is queued),
    // or BACKLOG_LIMIT_MS under a steady stream of new connections.
    const until = Date.now() + BACKLOG_LIMIT_MS
    setImmediate(function turn (seen: number) {
      // queued from a setImmediate callback, the next one runs after the next turn's poll
      if (accepted === seen || Date.now() >= until) done()
      else setImmediate(turn, accepted)
    }, -1)
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
