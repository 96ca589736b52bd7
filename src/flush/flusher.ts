/**
 * Runs batches against the store and owns what happens when they fail. A batch is a "flight": its
 * keys are busy (no other batch may take them) until each op is settled, one of:
 *   applied      the store accepted it (or fenced it as older than what it holds);
 *   dead-letter  it failed permanently, or kept failing on its own past `retry.maxAttempts`.
 * A failing batch is retried with exponential backoff and full jitter. A batch that fails with a
 * permanent error, or keeps failing, is split in halves so the good ops land and a poison op is
 * isolated. Consecutive retryable failures open the circuit: flushing pauses and one probe at a
 * time (the store's `ping()` when it has one, else a real batch) checks for recovery, so an
 * outage neither hammers the database nor burns the retry budget of healthy entries.
 */
import type { Clock } from '../contracts/clock.js'
import type { BatchResult, Store } from '../contracts/store.js'
import type { PendingOp } from '../core/pending-op.js'
import type { CircuitBreaker } from './circuit.js'
import { backoffDelay, isRetryable, type RetryPolicy } from './retry.js'

/** Attempts (while the store is otherwise healthy) after which a multi-op batch is split. */
const SPLIT_AFTER = 3

export interface FlusherHooks {
  /** The op is in the store (applied or fenced). Called before its key stops being busy. */
  applied(op: PendingOp): void
  /** The ops failed for good; resolves once they are persisted in the dead-letter queue. */
  deadLetter(ops: readonly PendingOp[], error: Error): Promise<void>
  /** A whole flight has ended (all of its ops settled, or the flusher stopped). */
  flightEnded(): void
  batchDone(ops: number, fenced: number, durationMs: number): void
  batchFailed(ops: number, error: Error, attempt: number, retryInMs: number | undefined): void
  /** A hook itself failed (the dead-letter queue could not be written): the ops stay unsettled. */
  internalError(error: Error): void
}

interface Flight {
  readonly minVersion: number
  readonly oldestSince: number
  readonly ops: number
  readonly bytes: number
}

export class Flusher {
  /** Keys in a flight. */
  readonly busy = new Set<string>()
  private readonly flights = new Set<Flight>()
  private gateWaiters: Array<() => void> = []
  private readonly sleepers = new Set<() => void>()
  private stopped = false
  private opsInFlight = 0
  private bytesInFlight = 0
  retries = 0
  /** Ops left unsettled by `stop()` (still safe in the log, where there is one). */
  readonly abandoned: PendingOp[] = []

  constructor(
    private readonly store: Store,
    private readonly policy: RetryPolicy,
    private readonly circuit: CircuitBreaker,
    private readonly clock: Clock,
    private readonly hooks: FlusherHooks,
  ) {}

  get flightCount(): number {
    return this.flights.size
  }

  /** The lowest version in any flight (conservative: fixed when the flight starts). */
  lowestVersion(): number | undefined {
    let low: number | undefined
    for (const f of this.flights) if (low === undefined || f.minVersion < low) low = f.minVersion
    for (const op of this.abandoned) if (low === undefined || op.version < low) low = op.version
    return low
  }

  oldestSince(): number | undefined {
    let old: number | undefined
    for (const f of this.flights) if (old === undefined || f.oldestSince < old) old = f.oldestSince
    return old
  }

  /** Ops in flights (kept as a running sum: it is read on every write). */
  inFlightOps(): number {
    return this.opsInFlight
  }

  inFlightBytes(): number {
    return this.bytesInFlight
  }

  /** Starts a flight for `ops` (non-empty, none of them busy); resolves when it ends. Never rejects. */
  start(ops: PendingOp[]): Promise<void> {
    let bytes = 0
    for (const op of ops) bytes += op.size
    const flight: Flight = { minVersion: minOf(ops, (o) => o.version), oldestSince: minOf(ops, (o) => o.since), ops: ops.length, bytes }
    for (const op of ops) this.busy.add(op.key)
    this.flights.add(flight)
    this.opsInFlight += flight.ops
    this.bytesInFlight += flight.bytes
    return this.run(ops)
      .catch((error: unknown) => {
        // Which ops settled is unknown: keep them all below the low-water mark (safe in the log).
        this.abandoned.push(...ops)
        this.hooks.internalError(toError(error))
      })
      .finally(() => {
        this.flights.delete(flight)
        this.opsInFlight -= flight.ops
        this.bytesInFlight -= flight.bytes
        for (const op of ops) this.busy.delete(op.key)
        this.hooks.flightEnded()
      })
  }

  /** Stops retrying: flights waiting on backoff or the circuit end now, their ops unsettled. */
  stop(): void {
    this.stopped = true
    this.wakeGate()
    for (const wake of [...this.sleepers]) wake()
  }

  /** Whether a write-through may go to the store now (false while the circuit is open). */
  get available(): boolean {
    return this.circuit.state === 'closed'
  }

  private async run(ops: PendingOp[]): Promise<void> {
    let pending = ops
    while (pending.length > 0 && !this.stopped) {
      const probe = await this.gate()
      if (this.stopped) break
      const started = this.clock.now()
      const outcome = await attempt(this.store, pending)
      pending = outcome.ok
        ? await this.onSuccess(pending, outcome.result, started)
        : await this.onFailure(pending, outcome.error, probe)
    }
    if (pending.length > 0) this.abandoned.push(...pending)
  }

  private async onSuccess(ops: PendingOp[], result: BatchResult | void, started: number): Promise<PendingOp[]> {
    this.circuit.recordSuccess()
    this.wakeGate()
    const failures = result?.failures ?? []
    const failed = new Map(failures.map((f) => [ops[f.index], f.error] as const))
    for (const op of ops) if (!failed.has(op)) this.hooks.applied(op)
    this.hooks.batchDone(ops.length - failed.size, result?.fenced ?? 0, this.clock.now() - started)
    const retry: PendingOp[] = []
    for (const [op, error] of failed) {
      if (op === undefined) continue
      if (!isRetryable(error)) await this.hooks.deadLetter([op], error)
      else if (this.count([op]) >= this.policy.maxAttempts) await this.hooks.deadLetter([op], error)
      else retry.push(op)
    }
    if (retry.length > 0) await this.backoff(retry, failures[0]?.error ?? new Error('op failed'))
    return retry
  }

  private async onFailure(ops: PendingOp[], error: Error, probe: boolean): Promise<PendingOp[]> {
    this.circuit.recordFailure(error)
    this.wakeGate()
    if (!isRetryable(error)) {
      this.hooks.batchFailed(ops.length, error, 1, undefined)
      if (ops.length === 1) await this.hooks.deadLetter(ops, error)
      else await this.split(ops)
      return []
    }
    const counted = this.circuit.state === 'closed' || (probe && this.store.ping === undefined)
    if (!counted) {
      this.hooks.batchFailed(ops.length, error, ops[0]?.attempts ?? 0, undefined)
      return ops
    }
    const attempts = this.count(ops)
    if (ops.length > 1 && attempts >= SPLIT_AFTER) {
      this.hooks.batchFailed(ops.length, error, attempts, 0)
      await this.split(ops)
      return []
    }
    if (attempts >= this.policy.maxAttempts) {
      this.hooks.batchFailed(ops.length, error, attempts, undefined)
      await this.hooks.deadLetter(ops, error)
      return []
    }
    await this.backoff(ops, error)
    return ops
  }

  /** Bisects: each half runs (and if need be splits) on its own, one after the other. */
  private async split(ops: PendingOp[]): Promise<void> {
    const half = Math.ceil(ops.length / 2)
    await this.run(ops.slice(0, half))
    await this.run(ops.slice(half))
  }

  /** Counts a failed attempt on each op; returns the highest count. */
  private count(ops: readonly PendingOp[]): number {
    let most = 0
    const now = this.clock.now()
    for (const op of ops) {
      op.attempts++
      if (op.firstFailedAt === 0) op.firstFailedAt = now
      if (op.attempts > most) most = op.attempts
    }
    return most
  }

  private async backoff(ops: readonly PendingOp[], error: Error): Promise<void> {
    const attempts = ops[0]?.attempts ?? 1
    const delay = backoffDelay(Math.max(1, attempts), this.policy)
    this.retries++
    this.hooks.batchFailed(ops.length, error, attempts, delay)
    await this.sleep(delay)
  }

  /**
   * Waits until the circuit lets a batch go. Returns true when this batch is the circuit's probe.
   * With a store `ping()`, the probe is the ping, and the batch goes only once the store answers.
   */
  private async gate(): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false
      const wasOpen = this.circuit.state === 'open'
      if (this.circuit.canFlush()) {
        if (!wasOpen || this.store.ping === undefined) return wasOpen
        if (await this.pingOk()) return false
        continue
      }
      await this.waitForCircuit()
    }
  }

  private async pingOk(): Promise<boolean> {
    try {
      await this.store.ping?.()
      this.circuit.recordSuccess()
      return true
    } catch (error) {
      this.circuit.recordFailure(toError(error))
      return false
    } finally {
      this.wakeGate()
    }
  }

  /** Resolves when the circuit changes or its next probe time comes. */
  private waitForCircuit(): Promise<void> {
    return new Promise<void>((resolve) => {
      const probeAt = this.circuit.nextProbeAt
      const timer = probeAt === undefined ? undefined : this.clock.setTimeout(wake, Math.max(0, probeAt - this.clock.now()))
      const clock = this.clock
      function wake(): void {
        if (timer !== undefined) clock.clearTimeout(timer)
        resolve()
      }
      this.gateWaiters.push(wake)
    })
  }

  private wakeGate(): void {
    const waiters = this.gateWaiters
    this.gateWaiters = []
    for (const wake of waiters) wake()
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(done, ms)
      const { clock, sleepers } = this
      sleepers.add(done)
      function done(): void {
        clock.clearTimeout(timer)
        sleepers.delete(done)
        resolve()
      }
    })
  }
}

type Outcome = { ok: true; result: BatchResult | void } | { ok: false; error: Error }

/** Longest run of back-to-back store calls before the flusher lets the event loop turn. */
const SLICE_MS = 20
let sliceStart = 0

/**
 * Yields one event-loop turn once the current slice is used up. A synchronous store
 * (better-sqlite3) would otherwise run a long flush (replay on open, close) batch after batch
 * without letting timers and I/O in; yielding before EVERY call instead would hand the loop to
 * busy writers between batches and starve the flush. Wall-clock time, not the injected clock:
 * this is about the real event loop.
 */
async function yieldIfSliceUsed(): Promise<void> {
  const now = Date.now()
  if (now - sliceStart < SLICE_MS) return
  await new Promise<void>((resolve) => setImmediate(resolve))
  sliceStart = Date.now()
}

async function attempt(store: Store, ops: readonly PendingOp[]): Promise<Outcome> {
  await yieldIfSliceUsed()
  try {
    return { ok: true, result: await store.writeBatch(ops) }
  } catch (error) {
    return { ok: false, error: toError(error) }
  }
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

function minOf<T>(items: readonly T[], pick: (item: T) => number): number {
  let low = Infinity
  for (const item of items) low = Math.min(low, pick(item))
  return low
}
