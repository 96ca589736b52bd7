/**
 * The load driver: W concurrent writers, each awaiting its own write before the next one, for a
 * fixed time and at most a fixed count. Every acknowledgement's latency goes into a preallocated
 * Float64Array, and the last acknowledged value of every key into a Map, which the final-state
 * check compares with the database after the drain.
 */
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises'
import type { BenchSystem, BenchValue } from './systems/types.js'
import type { Workload } from './workloads.js'

export interface LoadOptions {
  readonly durationMs: number
  readonly writers: number
  /** Upper bound on writes issued (the latency array's size). */
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

interface State {
  issued: number
  acked: number
  failed: number
  firstError: string | undefined
}

/** Drives `workload` through `system` and returns what was acknowledged. */
export async function runLoad(system: BenchSystem, workload: Workload, options: LoadOptions): Promise<LoadResult> {
  const latencies = new Float64Array(options.maxWrites)
  const lastAcked = new Map<string, BenchValue>()
  const failedKeys = new Set<string>()
  const state: State = { issued: 0, acked: 0, failed: 0, firstError: undefined }
  const start = performance.now()
  const progress = setInterval(() => options.onProgress?.(state.acked, performance.now() - start), 1000)
  try {
    const writer = async (id: number): Promise<void> => {
      const keys = workload.keys(id)
      for (;;) {
        const elapsed = performance.now() - start
        if (elapsed >= options.durationMs || state.issued >= options.maxWrites) return
        const pause = workload.pauseAt(elapsed)
        if (pause > 0) {
          await sleep(Math.min(pause, options.durationMs - elapsed))
          continue
        }
        // Each write arrives as its own macrotask, like a request would: without this, a write
        // that resolves in a microtask would starve the system's timers and I/O.
        await yieldToLoop()
        const key = keys.next()
        const value: BenchValue = { seq: ++state.issued, score: (state.issued * 7919) % 1_000_003 }
        const t0 = performance.now()
        try {
          await system.write(key, value)
        } catch (err) {
          state.failed += 1
          state.firstError ??= err instanceof Error ? err.message : String(err)
          failedKeys.add(key)
          continue
        }
        latencies[state.acked++] = performance.now() - t0
        const seen = lastAcked.get(key)
        if (seen === undefined || seen.seq < value.seq) lastAcked.set(key, value)
      }
    }
    await Promise.all(Array.from({ length: options.writers }, (_, id) => writer(id)))
  } finally {
    clearInterval(progress)
  }
  return {
    acked: state.acked,
    failed: state.failed,
    elapsedMs: performance.now() - start,
    latencies: latencies.subarray(0, state.acked),
    lastAcked,
    failedKeys,
    firstError: state.firstError,
  }
}
