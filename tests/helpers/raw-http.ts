import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'

/** What a raw connection received by the time the server closed it, and the socket error, if any. */
export interface RawClosed {
  text: string
  error?: string
}

export interface RawConnection {
  socket: Socket
  /** Resolves once the connection is open. */
  connected: Promise<void>
  /** Resolves once the server has begun answering. */
  firstByte: Promise<void>
  /** Resolves once the connection has closed, with everything the server sent on it. */
  closed: Promise<RawClosed>
}

/**
 * A TCP connection of its own to a listening server on 127.0.0.1, on which the test writes what
 * it wants when it wants (nothing, half a request, a byte at a time): what an HTTP client never does.
 */
export function rawConnection (port: number): RawConnection {
  const socket = connect(port, '127.0.0.1')
  const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()))
  const firstByte = new Promise<void>((resolve) => socket.once('data', () => resolve()))
  const chunks: Buffer[] = []
  socket.on('data', (chunk: Buffer) => chunks.push(chunk))
  let error: string | undefined
  socket.on('error', (err: NodeJS.ErrnoException) => {
    error = err.code ?? err.message
  })
  const closed = new Promise<RawClosed>((resolve) => {
    socket.once('close', () => resolve({ text: Buffer.concat(chunks).toString(), ...(error ? { error } : {}) }))
  })
  return { socket, connected, firstByte, closed }
}

/** The bytes of a complete HTTP/1.1 POST with a JSON body, as written on a raw connection. */
export function rawJsonPost (path: string, body: unknown): string {
  const payload = JSON.stringify(body)
  return (
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`
  )
}

export interface SlowAnswer {
  status: number
  body: string
  connection: string | undefined
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>
}

/**
 * A JSON POST on a keep-alive connection whose headers go now (with `expect: 100-continue`, so
 * `accepted` resolves once the server has routed the request) and whose body goes on `finish()`:
 * a request that spans whatever the test does in between (closing the app, a SIGTERM).
 */
export function slowRequest (port: number, path: string, body: unknown) {
  const payload = Buffer.from(JSON.stringify(body))
  const req = request({
    host: '127.0.0.1',
    port,
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'content-length': payload.length, expect: '100-continue' },
    // a client that keeps connections open as long as the server allows
    agent: new Agent({ keepAlive: true, keepAliveMsecs: 60_000 }),
  })
  const answer = new Promise<SlowAnswer>((resolve, reject) => {
    req.on('response', (res) => {
      const socket = res.socket
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      let text = ''
      res.on('data', (chunk) => {
        text += chunk
      })
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text, connection: res.headers.connection, closed })
      )
    })
    req.on('error', reject)
  })
  const accepted = new Promise<void>((resolve) => req.on('continue', () => resolve()))
  req.flushHeaders()
  return { accepted, answer, finish: () => req.end(payload) }
}

/** `rawConnection`, once open. */
export async function openRawConnection (port: number): Promise<RawConnection> {
  const connection = rawConnection(port)
  await connection.connected
  return connection
}
