import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { responseInProgress } from './request-deadline.js'

/**
 * Shutdown that no client can hold up. Node's server.close() closes the connections that are
 * idle at that moment, once: a request in flight would be answered `keep-alive, timeout=72`,
 * and a client holding that connection open would keep the server from closing past
 * close-with-grace's delay (exit 1). So when app.close() begins, each response still to be
 * written gets `Connection: close`, and a connection that goes idle afterwards (its response's
 * headers had already gone) closes at once. Requests routed after that point get
 * `Connection: close` from fastify itself.
 *
 * Connections are tracked as they open, not requests as they come: the hot path pays nothing
 * (an onSend hook checking a flag was measurable with `npm run bench`).
 */
async function gracefulClose (app: FastifyInstance) {
  const sockets = new Set<Socket>()
  app.server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  app.addHook('preClose', (done) => {
    for (const socket of sockets) {
      const response = responseInProgress(socket)
      if (response && !response.headersSent) response.setHeader('connection', 'close')
    }
    // read by Node as each response finishes: a socket left idle then times out at once and is
    // closed (by request-deadline.ts's timeout handler, or by Node)
    app.server.keepAliveTimeout = 1
    done()
  })
}

export default fp(gracefulClose, { name: 'graceful-close' })
