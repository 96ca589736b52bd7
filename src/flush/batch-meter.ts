/**
 * What the flusher measures of each `store.writeBatch` call: its duration and its size (two
 * fixed-bucket histograms, read by `stats().flush`), and the `writebehind:store.batch`
 * TracingChannel around it. With nobody subscribed to the channel no context object and no
 * closure is made: a call costs two `performance.now()` reads and two histogram records.
 *
 *   callStore ─► begin (context if traced) ─► traced (start ─ writeBatch ─ end) ─► settled / failed
 *                                                                           (result, error, asyncStart, asyncEnd)
 *
 * Durations are `performance.now()` (monotonic, sub-millisecond), not the injected clock: a
 * fake clock would measure every call as 0 ms, and a stepped wall clock could measure it negative.
 */
import type { StoreBatchContext } from '../contracts/diagnostics.js'
import { COUNT_BOUNDS, Histogram, LATENCY_BOUNDS_MS } from '../diagnostics/histogram.js'
import { storeBatchChannel } from '../diagnostics/channels.js'

export class BatchMeter {
  /** Duration of every store call, succeeded or failed (ms). Recorded here only. */
  readonly duration = new Histogram(LATENCY_BOUNDS_MS)
  /** Ops per store call. Recorded here only. */
  readonly size = new Histogram(COUNT_BOUNDS)

  constructor(private readonly cache: string) {}

  /** Before a call of `ops` ops, on their `attempt`: the context to trace it with, or undefined when nobody listens. */
  begin(ops: number, attempt: number): StoreBatchContext | undefined {
    if (!storeBatchChannel.hasSubscribers) return undefined
    return { cache: this.cache, ops, attempt }
  }

  /** Runs `call` (the `writeBatch`) between `start` and `end`, in the start channel's bound stores. */
  traced<T>(context: StoreBatchContext, call: () => T): T {
    return storeBatchChannel.start.runStores(context, () => {
      try {
        return call()
      } finally {
        storeBatchChannel.end.publish(context)
      }
    })
  }

  /** The call returned: `applied` ops taken (fenced included), `failed` refused one by one. */
  settled(context: StoreBatchContext | undefined, ops: number, durationMs: number, applied: number, fenced: number, failed: number): void {
    this.record(ops, durationMs)
    if (context === undefined) return
    context.result = { applied, fenced, failed, durationMs }
    storeBatchChannel.asyncStart.publish(context)
    storeBatchChannel.asyncEnd.publish(context)
  }

  /** The call threw or timed out: every op failed. */
  failed(context: StoreBatchContext | undefined, ops: number, durationMs: number, error: Error): void {
    this.record(ops, durationMs)
    if (context === undefined) return
    context.error = error
    context.result = { applied: 0, fenced: 0, failed: ops, durationMs }
    storeBatchChannel.error.publish(context)
    storeBatchChannel.asyncStart.publish(context)
    storeBatchChannel.asyncEnd.publish(context)
  }

  private record(ops: number, durationMs: number): void {
    this.duration.record(durationMs)
    this.size.record(ops)
  }
}
