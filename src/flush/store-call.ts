/**
 * One `store.writeBatch` call as the flusher makes it: bounded by `flush.batchTimeoutMs`, taking
 * turns with the event loop, and read back into per-op outcomes (which ops the store reported
 * superseded, with the version it holds).
 */
import type { Clock } from '../contracts/clock.js'
import type { BatchResult, Store } from '../contracts/store.js'
import { StoreError } from '../errors.js'
import { toError } from '../to-error.js'
import type { StoreBatchContext } from '../contracts/diagnostics.js'
import type { BatchMeter } from './batch-meter.js'
import type { PendingOp } from './pending-op.js'

/** How a call went, how long it took (`performance.now()`), and its trace context when traced. */
export type Outcome = ({ ok: true; result: BatchResult | void } | { ok: false; error: Error }) & {
  readonly durationMs: number
  readonly trace: StoreBatchContext | undefined
}

/** Longest run of back-to-back store calls before a flusher lets the event loop turn. */
const SLICE_MS = 20

/**
 * Yields one event-loop turn once the current slice is used up. A synchronous store
 * (better-sqlite3) would otherwise run a long flush (replay on open, close) batch after batch
 * without letting timers and I/O in; yielding before EVERY call instead would hand the loop to
 * busy writers between batches and starve the flush. Wall-clock time, not the injected clock:
 * this is about the real event loop. One per flusher, so caches do not share a slice.
 */
export class TimeSlice {
  private start = 0

  async yieldIfUsed(): Promise<void> {
    const now = Date.now()
    if (now - this.start < SLICE_MS) return
    await new Promise<void>((resolve) => setImmediate(resolve))
    this.start = Date.now()
  }
}

/**
 * One `writeBatch` call, bounded by `timeoutMs` on the injected clock. A call that times out is a
 * retryable failure; it may still commit later, which fencing makes harmless (the retry carries
 * the same versions, and a newer write always wins). `meter` times it and, when the store-batch
 * channel has subscribers, runs it between the trace's `start` and `end`; the caller reports how
 * it settled (`meter.settled` / `meter.failed`), once it knows what the ops became.
 */
export async function callStore(store: Store, ops: readonly PendingOp[], timeoutMs: number, clock: Clock, slice: TimeSlice, meter: BatchMeter): Promise<Outcome> {
  await slice.yieldIfUsed()
  let timer: ReturnType<Clock['setTimeout']> | undefined
  const trace = meter.begin(ops.length, (ops[0]?.attempts ?? 0) + 1)
  const started = performance.now()
  try {
    const call = trace === undefined ? store.writeBatch(ops) : meter.traced(trace, () => store.writeBatch(ops))
    const timeout = new Promise<never>((_, reject) => {
      timer = clock.setTimeout(() => reject(batchTimeout(ops.length, timeoutMs)), timeoutMs)
    })
    call.catch(() => {}) // a call that lost the race must not become an unhandled rejection
    const result = await Promise.race([call, timeout])
    return { ok: true, result, durationMs: performance.now() - started, trace }
  } catch (error) {
    return { ok: false, error: toError(error), durationMs: performance.now() - started, trace }
  } finally {
    if (timer !== undefined) clock.clearTimeout(timer)
  }
}

/**
 * The ops the store reported superseded, with the version it holds. An op superseded only by a
 * later op of the same key in this very batch (which applied) counts as applied.
 */
export function supersededOps(ops: readonly PendingOp[], result: BatchResult | void): Map<PendingOp, number> | undefined {
  const reported = result?.superseded
  if (reported === undefined || reported.length === 0) return undefined
  const out = new Map<PendingOp, number>()
  const reportedIndexes = new Set(reported.map((s) => s.index))
  let newestInBatch: Map<string, number> | undefined
  for (const { index, version } of reported) {
    const op = ops[index]
    if (op === undefined || !(version > op.version)) continue
    newestInBatch ??= newestApplied(ops, reportedIndexes)
    if ((newestInBatch.get(op.key) ?? 0) >= version) continue
    out.set(op, version)
  }
  return out
}

function newestApplied(ops: readonly PendingOp[], skip: ReadonlySet<number>): Map<string, number> {
  const newest = new Map<string, number>()
  ops.forEach((op, i) => {
    if (!skip.has(i) && op.version > (newest.get(op.key) ?? 0)) newest.set(op.key, op.version)
  })
  return newest
}

function batchTimeout(ops: number, timeoutMs: number): StoreError {
  return new StoreError(
    `store.writeBatch (${ops} ops) did not settle within flush.batchTimeoutMs (${timeoutMs} ms); it is retried. ` +
      'Check the store connection (a black-holed connection or a lock wait), or raise flush.batchTimeoutMs.',
    { retryable: true, code: 'E_BATCH_TIMEOUT' },
  )
}
