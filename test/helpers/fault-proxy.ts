// A fault-injecting TCP proxy (node:net) for store tests: forwards loopback connections to a real
// server and can cut every connection after N more client→server bytes (mid-statement), or refuse
// connections while "down". Lets a test lose the server in the middle of a batch, then bring it back.
import net from 'node:net'

export class FaultProxy {
  private readonly server: net.Server
  private readonly sockets = new Set<net.Socket>()
  private up = true
  /** Client→server bytes still allowed before every connection is cut; undefined = unlimited. */
  private budget: number | undefined
  /** Called once when an armed cut (or hold) fires. */
  private onCut: (() => void) | undefined
  /** What happens when the budget runs out: cut every connection, or hold (drop) further client bytes. */
  private mode: 'cut' | 'hold' = 'cut'

  constructor(
    private readonly targetHost: string,
    private targetPort: number,
  ) {
    this.server = net.createServer((client) => this.accept(client))
  }

  /** Starts listening on a free loopback port and returns it. */
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as net.AddressInfo).port
  }

  /** After `bytes` more client→server bytes, cut every connection and go down; resolves when it fired. */
  cutAfter(bytes: number): Promise<void> {
    this.mode = 'cut'
    this.budget = bytes
    return new Promise((resolve) => (this.onCut = resolve))
  }

  /**
   * After `bytes` more client→server bytes, stop forwarding client bytes (connections stay open, so
   * the server sits mid-statement, mid-transaction) until `restore()`; resolves when it fired.
   */
  holdAfter(bytes: number): Promise<void> {
    this.mode = 'hold'
    this.budget = bytes
    return new Promise((resolve) => (this.onCut = resolve))
  }

  /** Cuts every connection now and refuses new ones until `restore()`. */
  cut(): void {
    this.up = false
    this.budget = undefined
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    const done = this.onCut
    this.onCut = undefined
    done?.()
  }

  /** Sends new connections to `port` from now on (a failover behind a fixed address); open ones stay. */
  retarget(port: number): void {
    this.targetPort = port
  }

  /** Accepts and forwards connections again. */
  restore(): void {
    this.up = true
    this.budget = undefined
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private budgetSpent(): void {
    if (this.mode === 'cut') return this.cut()
    const done = this.onCut
    this.onCut = undefined
    done?.()
  }

  private accept(client: net.Socket): void {
    if (!this.up) {
      client.destroy()
      return
    }
    const upstream = net.connect(this.targetPort, this.targetHost)
    for (const socket of [client, upstream]) {
      this.sockets.add(socket)
      socket.on('error', () => undefined)
      socket.on('close', () => {
        this.sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
    }
    client.on('data', (chunk: Buffer) => this.forward(chunk, upstream))
    upstream.on('data', (chunk: Buffer) => client.write(chunk))
  }

  private forward(chunk: Buffer, upstream: net.Socket): void {
    if (this.budget === undefined) {
      upstream.write(chunk)
      return
    }
    if (this.budget === 0) return // the cut is on its way: drop what follows
    if (chunk.length < this.budget) {
      this.budget -= chunk.length
      upstream.write(chunk)
      return
    }
    upstream.write(chunk.subarray(0, this.budget), () => this.budgetSpent())
    this.budget = 0
  }
}
