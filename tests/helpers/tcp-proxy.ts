import { connect, createServer, type Server, type Socket } from 'node:net'

export interface TcpProxy {
  /** The local port; the same after a `cut()` and `start()`, so clients reconnect to it. */
  readonly port: number
  /** Listens on 127.0.0.1 (again, after a cut) and forwards every connection to the target. */
  start(): Promise<void>
  /** A partition: connections stay open but no byte gets through (nothing is refused). */
  stall(): void
  /** An outage: every connection is destroyed and new ones are refused until `start()`. */
  cut(): Promise<void>
}

/**
 * A TCP proxy in front of a server (PostgreSQL, Redis) that a test can cut, stall and restore,
 * as a network failure would. Not listening until `start()`.
 */
export function createTcpProxy (target: { host: string; port: number }): TcpProxy {
  const sockets = new Set<Socket>()
  const pairs = new Set<[Socket, Socket]>()
  let server: Server | null = null
  let port = 0
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
  }
  return {
    get port () {
      return port
    },
    async start () {
      const listener = createServer((client) => {
        const upstream = connect(target.port, target.host)
        track(client)
        track(upstream)
        client.pipe(upstream).pipe(client)
        const pair: [Socket, Socket] = [client, upstream]
        pairs.add(pair)
        client.on('close', () => pairs.delete(pair))
      })
      server = listener
      await new Promise<void>((resolve) => listener.listen(port, '127.0.0.1', resolve))
      const address = listener.address()
      if (typeof address === 'object' && address) port = address.port
    },
    stall () {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
      }
      server?.removeAllListeners('connection')
      server?.on('connection', (socket: Socket) => track(socket))
    },
    async cut () {
      for (const socket of sockets) socket.destroy()
      const listener = server
      server = null
      await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()))
    },
  }
}

/** The URL with its host and port replaced by the proxy's. */
export function throughProxy (url: string, proxy: TcpProxy): string {
  const proxied = new URL(url)
  proxied.host = `127.0.0.1:${proxy.port}`
  return proxied.toString()
}

/** Host and port of a postgres:// or redis:// URL, with the scheme's default port. */
export function targetOf (url: string, defaultPort: number) {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port || defaultPort) }
}
