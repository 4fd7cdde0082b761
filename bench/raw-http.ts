import { connect, type Socket } from 'node:net'

/**
 * A minimal keep-alive HTTP/1.1 client for load generation: one request at a time per connection,
 * responses framed by Content-Length. A benchmark on a 2-core machine shares the CPU with the
 * server, so the client must cost far less than the server it measures; `fetch` costs about as much.
 */
export class RawHttpConnection {
  private readonly socket: Socket
  private buffer: Buffer = Buffer.alloc(0)
  private pending: ((response: { status: number; body: string }) => void) | undefined
  private failed: ((error: Error) => void) | undefined

  private constructor(socket: Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
      this.drain()
    })
    socket.on('error', (error) => this.failed?.(error))
  }

  static open(host: string, port: number): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => resolve(new RawHttpConnection(socket)))
      socket.once('error', reject)
    })
  }

  request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body = '',
  ): Promise<{ status: number; body: string }> {
    const length = Buffer.byteLength(body)
    let head = `${method} ${path} HTTP/1.1\r\ncontent-length: ${length}\r\n`
    if (!('host' in headers)) head += `host: ${this.socket.remoteAddress}:${this.socket.remotePort}\r\n`
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
    this.socket.write(`${head}\r\n${body}`)
    return new Promise((resolve, reject) => {
      this.pending = resolve
      this.failed = reject
    })
  }

  close(): void {
    this.socket.destroy()
  }

  private drain(): void {
    const end = this.buffer.indexOf('\r\n\r\n')
    if (end < 0 || this.pending === undefined) return
    const head = this.buffer.subarray(0, end).toString('latin1')
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0)
    if (this.buffer.length < end + 4 + length) return
    const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8')
    this.buffer = this.buffer.subarray(end + 4 + length)
    const status = Number(head.slice(9, 12))
    const resolve = this.pending
    this.pending = undefined
    resolve({ status, body })
  }
}
