/**
 * The load driver: W concurrent writers, each awaiting its own write before the next one, for a
 * fixed time and at most a fixed count. Every acknowledgement's latency goes into a preallocated
 * Float64Array, and the last acknowledged value of every key into a Map, which the final-state
 * check compares with the database after the drain.
 */
import { performance } from 'node:perf_hooks'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import type { BenchSystem, BenchValue } from './systems/types.js'
import type { Workload } from './workloads.js'

/**
 * Where in the event loop a writer's next write starts. `immediate`: from a `setImmediate`
 * callback (the check phase). `io`: from a socket's 'data' callback (the poll phase), like a
 * request: each writer owns a loopback TCP connection to a server in the same process, and sends
 * itself one byte before each write. The two differ for anything deferred with `setImmediate`
 * (writebehind's `logWriteScheduling: 'immediate'`): from the poll phase it runs later in the
 * same turn, from the check phase only in the next one. (A MessagePort was tried first and
 * rejected: under this load it starved timers and I/O, and writebehind's flusher sent no batch
 * for 3 s.)
 */
export type Arrival = 'immediate' | 'io'

export interface LoadOptions {
  readonly arrival?: Arrival
  readonly durationMs: number
  readonly writers: number
  /** Upper bound on writes issued (give or take one per writer; sizes the latency array). */
  readonly maxWrites: number
  /** Called about once a second with the running totals. */
  readonly onProgress?: (acked: number, elapsedMs: number) => void
  /** Opened just before the first write and closed after the last acknowledgement (bench/lib/cpu.ts reads CPU time there). */
  readonly window?: LoadWindow
}

/** Synchronous hooks at the edges of the load, in whichever process(es) the writers run. */
export interface LoadWindow {
  begin(): void
  end(): void
}

export interface LoadResult {
  readonly acked: number
  readonly failed: number
  /** From the first write to the last acknowledgement. */
  readonly elapsedMs: number
  /** One entry per acknowledged write, in milliseconds. */
  readonly latencies: Float64Array
  /** The newest acknowledged value of each key. */
  readonly lastAcked: Map<string, BenchValue>
  /** A counter system's acknowledged writes per key (empty for the others). */
  readonly counts: Map<string, number>
  /** Keys with a failed write: their final state is unknown, so the check skips them. */
  readonly failedKeys: Set<string>
  readonly firstError: string | undefined
}

/** Drives `workload` through `system` and returns what was acknowledged. */
export async function runLoad(system: BenchSystem, workload: Workload, options: LoadOptions): Promise<LoadResult> {
  const arrivals = options.arrival === 'io' ? await SocketArrivals.open(options.writers) : undefined
  options.window?.begin()
  const load = new Load(system, workload, options)
  const progress = setInterval(() => options.onProgress?.(load.acked, load.elapsed()), 1000)
  try {
    await Promise.all(Array.from({ length: options.writers }, (_, id) => load.writer(id, arrivals?.writer(id) ?? yieldToLoop)))
    options.window?.end()
  } finally {
    clearInterval(progress)
    await arrivals?.close()
  }
  return load.result()
}

/** One load's shared state: the counters, the latency array and the last acknowledged values. */
class Load {
  acked = 0
  private issued = 0
  private failed = 0
  private firstError: string | undefined
  private readonly latencies: Float64Array
  private readonly lastAcked = new Map<string, BenchValue>()
  private readonly counts = new Map<string, number>()
  private readonly failedKeys = new Set<string>()
  private readonly start = performance.now()

  constructor(
    private readonly system: BenchSystem,
    private readonly workload: Workload,
    private readonly options: LoadOptions,
  ) {
    // Writers check the count before they yield, so each may overshoot it by one write.
    this.latencies = new Float64Array(options.maxWrites + options.writers)
  }

  elapsed(): number {
    return performance.now() - this.start
  }

  /** One writer: waits for its turn, writes, records, until the time or the count runs out. */
  async writer(id: number, arrive: () => Promise<unknown>): Promise<void> {
    const keys = this.workload.keys(id)
    while (await this.nextTurn(arrive)) await this.writeOne(keys.next())
  }

  result(): LoadResult {
    const { acked, failed, lastAcked, counts, failedKeys, firstError } = this
    return { acked, failed, elapsedMs: this.elapsed(), latencies: this.latencies.subarray(0, acked), lastAcked, counts, failedKeys, firstError }
  }

  // False once the load is over; otherwise waits out a pause and yields before the write.
  private async nextTurn(arrive: () => Promise<unknown>): Promise<boolean> {
    for (;;) {
      const elapsed = this.elapsed()
      if (elapsed >= this.options.durationMs || this.issued >= this.options.maxWrites) return false
      const pause = this.workload.pauseAt(elapsed)
      if (pause === 0) break
      await sleep(Math.min(pause, this.options.durationMs - elapsed))
    }
    // Each write arrives as its own macrotask, like a request would: without this, a write that
    // resolves in a microtask would starve the system's timers and I/O.
    await arrive()
    return true
  }

  private async writeOne(key: string): Promise<void> {
    const seq = ++this.issued
    const value: BenchValue = { seq, score: (seq * 7919) % 1_000_003 }
    const t0 = performance.now()
    try {
      await this.system.write(key, value)
    } catch (err) {
      this.failed += 1
      this.firstError ??= err instanceof Error ? err.message : String(err)
      this.failedKeys.add(key)
      return
    }
    this.latencies[this.acked++] = performance.now() - t0
    const seen = this.lastAcked.get(key)
    if (seen === undefined || seen.seq < value.seq) this.lastAcked.set(key, value)
    if (this.system.counter === true) this.counts.set(key, (this.counts.get(key) ?? 0) + 1)
  }
}

/** One loopback connection per writer; `writer(id)()` resolves from that connection's 'data' callback. */
class SocketArrivals {
  private constructor(
    private readonly server: Server,
    private readonly clients: Socket[],
    private readonly wakers: (() => void)[],
  ) {}

  static async open(writers: number): Promise<SocketArrivals> {
    const wakers: (() => void)[] = []
    const server = createServer({ noDelay: true }, (socket) => {
      // The first byte names the writer; every later byte wakes it.
      socket.once('data', (first) => {
        const id = first[0]! | (first[1]! << 8)
        socket.on('data', () => wakers[id]?.())
        wakers[id]?.()
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const { port } = server.address() as { port: number }
    const clients = await Promise.all(
      Array.from({ length: writers }, async (_, id) => {
        const client = connect({ port, host: '127.0.0.1', noDelay: true })
        await once(client, 'connect')
        const ready = new Promise<void>((resolve) => {
          wakers[id] = resolve
        })
        client.write(Buffer.from([id & 0xff, id >> 8]))
        await ready
        return client
      }),
    )
    return new SocketArrivals(server, clients, wakers)
  }

  writer(id: number): () => Promise<void> {
    const client = this.clients[id]!
    const byte = Buffer.from([1])
    return () =>
      new Promise<void>((resolve) => {
        this.wakers[id] = resolve
        client.write(byte)
      })
  }

  async close(): Promise<void> {
    for (const client of this.clients) client.destroy()
    this.server.close()
    await once(this.server, 'close')
  }
}
