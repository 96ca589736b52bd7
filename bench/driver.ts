/**
 * The load driver: W concurrent writers, each awaiting its own write before the next one, for a
 * fixed time and at most a fixed count. Every acknowledgement's latency goes into a preallocated
 * Float64Array, and the last acknowledged value of every key into a Map, which the final-state
 * check compares with the database after the drain.
 */
import { performance } from 'node:perf_hooks'
import { MessageChannel } from 'node:worker_threads'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import type { BenchSystem, BenchValue } from './systems/types.js'
import type { Workload } from './workloads.js'

/**
 * Where in the event loop a writer's next write starts. `immediate`: from a `setImmediate`
 * callback (the check phase). `io`: from a MessagePort message, delivered in the poll phase like
 * a request read from a socket, each in its own callback. The two differ for anything deferred
 * with `setImmediate` (writebehind's `logWriteScheduling: 'immediate'`): from the poll phase it
 * runs later in the same turn, from the check phase only in the next one.
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
  /** Keys with a failed write: their final state is unknown, so the check skips them. */
  readonly failedKeys: Set<string>
  readonly firstError: string | undefined
}

/** Drives `workload` through `system` and returns what was acknowledged. */
export async function runLoad(system: BenchSystem, workload: Workload, options: LoadOptions): Promise<LoadResult> {
  const load = new Load(system, workload, options)
  const progress = setInterval(() => options.onProgress?.(load.acked, load.elapsed()), 1000)
  try {
    await Promise.all(Array.from({ length: options.writers }, (_, id) => load.writer(id)))
  } finally {
    clearInterval(progress)
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
  async writer(id: number): Promise<void> {
    const keys = this.workload.keys(id)
    const arrive = this.options.arrival === 'io' ? viaPort() : { next: () => yieldToLoop(), close: () => {} }
    try {
      while (await this.nextTurn(arrive.next)) await this.writeOne(keys.next())
    } finally {
      arrive.close()
    }
  }

  result(): LoadResult {
    const { acked, failed, lastAcked, failedKeys, firstError } = this
    return { acked, failed, elapsedMs: this.elapsed(), latencies: this.latencies.subarray(0, acked), lastAcked, failedKeys, firstError }
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
  }
}

/** A writer's own MessageChannel: `next()` resolves from the poll phase, in its own callback. */
function viaPort(): { next: () => Promise<void>; close: () => void } {
  const { port1, port2 } = new MessageChannel()
  let wake: (() => void) | undefined
  port1.on('message', () => {
    const resolve = wake
    wake = undefined
    resolve?.()
  })
  return {
    next: () => new Promise<void>((resolve) => {
      wake = resolve
      port2.postMessage(0)
    }),
    close: () => port1.close(),
  }
}
