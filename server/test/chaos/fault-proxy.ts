import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy that misbehaves the way networks do, for chaos runs: each connection it accepts gets
 * one fault, drawn from the weights given, and keeps it for its life (HTTP keep-alive reuses it).
 *
 * - `pass`: forwards both ways.
 * - `delay`: forwards every chunk after 1 to `maxDelayMs` ms, in order.
 * - `drop`: takes the client's bytes and forwards nothing: the request vanishes, the client waits.
 * - `reset`: forwards until a random number of bytes went by, then resets both sides (RST).
 * - `halfOpen`: forwards the request to the server but none of the answer: the server did the work
 *   and the client never learns it (the outcome of a write is unknown to the device).
 * - `truncate`: forwards part of the answer, then closes the client's side cleanly.
 */
export type Fault = 'pass' | 'delay' | 'drop' | 'reset' | 'halfOpen' | 'truncate'

export interface FaultProxyOptions {
  /** Where the proxy forwards to. */
  readonly target: { readonly host: string; readonly port: number }
  /** Relative weights of the faults; a fault left out never happens. */
  readonly weights: Partial<Record<Fault, number>>
  readonly maxDelayMs?: number
  /** Draws a number in [0, 1); Math.random by default (give a seeded one to replay a run). */
  readonly random?: () => number
}

export interface FaultProxy {
  readonly port: number
  /** Connections accepted so far, by the fault they got. */
  readonly counts: Readonly<Record<Fault, number>>
  /** From now on every new connection gets `pass`, and the open faulty ones are closed. */
  heal(): void
  close(): Promise<void>
}

const FAULTS: readonly Fault[] = ['pass', 'delay', 'drop', 'reset', 'halfOpen', 'truncate']

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = options.random ?? Math.random
  const maxDelayMs = options.maxDelayMs ?? 80
  const counts: Record<Fault, number> = { pass: 0, delay: 0, drop: 0, reset: 0, halfOpen: 0, truncate: 0 }
  const open = new Set<Socket>()
  let healed = false

  const pick = (): Fault => {
    if (healed) return 'pass'
    const total = FAULTS.reduce((sum, fault) => sum + (options.weights[fault] ?? 0), 0)
    let at = random() * total
    for (const fault of FAULTS) {
      at -= options.weights[fault] ?? 0
      if (at < 0) return fault
    }
    return 'pass'
  }

  const server: Server = createServer((client) => {
    const fault = pick()
    counts[fault]++
    open.add(client)
    client.on('close', () => open.delete(client))
    client.on('error', () => {})
    if (fault === 'drop') {
      client.resume()
      return
    }
    const upstream = connect(options.target.port, options.target.host)
    open.add(upstream)
    upstream.on('close', () => {
      open.delete(upstream)
      if (fault !== 'halfOpen') client.destroy()
    })
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    const resetAfter = Math.floor(random() * 4000)
    let passed = 0
    const forward = (from: Socket, to: Socket, answer: boolean) => {
      from.on('data', (chunk: Buffer) => {
        if (fault === 'halfOpen' && answer) return
        if (fault === 'reset') {
          passed += chunk.byteLength
          if (passed > resetAfter) {
            client.resetAndDestroy()
            upstream.resetAndDestroy()
            return
          }
        }
        if (fault === 'truncate' && answer) {
          to.end(chunk.subarray(0, Math.floor(chunk.byteLength / 2)))
          upstream.destroy()
          return
        }
        if (fault === 'delay') {
          from.pause()
          setTimeout(
            () => {
              if (!to.destroyed) to.write(chunk)
              from.resume()
            },
            1 + Math.floor(random() * maxDelayMs),
          )
          return
        }
        if (!to.destroyed) to.write(chunk)
      })
    }
    forward(client, upstream, false)
    forward(upstream, client, true)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port')
  return {
    port: address.port,
    counts,
    heal() {
      healed = true
      for (const socket of open) socket.destroy()
    },
    async close() {
      healed = true
      for (const socket of open) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
