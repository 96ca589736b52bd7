/**
 * Fault-injecting wrappers around any `Store`, for tests of the flush pipeline:
 *   FlakyStore   fails whole batches at random (retryable), sometimes AFTER applying them
 *   PoisonStore  fails a whole batch (permanently) when it holds a poison op, like a SQL
 *                multi-row insert failing on one bad row, so the caller must bisect
 *   OutageStore  fails every call (retryable) while `from <= clock.now() < to`
 *   SlowStore    answers after a delay on the injected clock
 *   GatedStore   holds each batch until the test releases or fails it
 *   RefusingStore fails every op permanently while `refusing` (a missing table, a bad password),
 *                though its `ping()` answers
 *   BlackHoleStore never settles a `writeBatch` while `swallowing` (a black-holed connection)
 * Each counts `writeBatch` calls, failed calls and ops seen. `ping` is offered only when the
 * inner store has one, so wrapping does not change how a circuit probes; `merges` is the inner
 * store's.
 */
import type { Clock } from '../../src/contracts/clock.js'
import type { BatchResult, LoadedEntry, MergeKind, OpFailure, Store, StoreOp, SupersededOp } from '../../src/contracts/store.js'
import { StoreError } from '../../src/errors.js'

export interface FaultCounters {
  /** `writeBatch` calls. */
  calls: number
  /** `writeBatch` calls that threw. */
  failedCalls: number
  /** Ops received over all `writeBatch` calls. */
  opsSeen: number
}

/** The shared wrapper: counting, and forwarding `load`, `ping` and `close` to the inner store. */
export abstract class FaultyStore implements Store {
  protected readonly counts: FaultCounters = { calls: 0, failedCalls: 0, opsSeen: 0 }
  ping?: () => Promise<void>
  /** The inner store's merges: a wrapper applies what it applies. */
  readonly merges: readonly MergeKind[] | undefined

  constructor(readonly inner: Store) {
    this.merges = inner.merges
    const innerPing = inner.ping?.bind(inner)
    if (innerPing !== undefined) this.ping = async () => this.guard(innerPing)
  }

  /** A copy of the counters. */
  get counters(): FaultCounters {
    return { ...this.counts }
  }

  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    this.counts.calls++
    this.counts.opsSeen += ops.length
    try {
      return await this.write(ops)
    } catch (error) {
      this.counts.failedCalls++
      throw error
    }
  }

  async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    return this.guard(() => this.inner.load(keys))
  }

  async close(): Promise<void> {
    await this.inner.close?.()
  }

  /** The fault behaviour of a batch. */
  protected abstract write(ops: readonly StoreOp[]): Promise<BatchResult | void>

  /** Runs a non-batch call (`load`, `ping`); subclasses may fail or delay it too. */
  protected async guard<T>(call: () => Promise<T>): Promise<T> {
    return call()
  }
}

export interface FlakyOptions {
  /** Probability that a batch fails. */
  failRate: number
  /** Probability that a failing batch fails after the inner store applied it. @default 0.5 */
  applyThenFailRate?: number
  /** The random source; seed it for a reproducible run. @default Math.random */
  random?: () => number
}

/** Fails whole batches at random with a retryable error, sometimes after applying them. */
export class FlakyStore extends FaultyStore {
  /** Failed batches that had been applied before the failure (redeliveries to come). */
  appliedThenFailed = 0
  private readonly options: Required<FlakyOptions>

  constructor(inner: Store, options: FlakyOptions) {
    super(inner)
    this.options = { applyThenFailRate: 0.5, random: Math.random, ...options }
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    const { failRate, applyThenFailRate, random } = this.options
    if (random() >= failRate) return this.inner.writeBatch(ops)
    if (random() < applyThenFailRate) {
      await this.inner.writeBatch(ops)
      this.appliedThenFailed++
      throw new StoreError('flaky store: connection lost after commit (injected)', { retryable: true, code: 'E_FLAKY' })
    }
    throw new StoreError('flaky store: connection lost (injected)', { retryable: true, code: 'E_FLAKY' })
  }
}

export interface PoisonOptions {
  isPoison: (op: StoreOp) => boolean
  /**
   * `batch` (default): a poison op fails the whole batch and nothing applies, like one bad row in a
   * multi-row INSERT. `per-op`: the good ops apply and the poison ones come back as `failures`.
   */
  mode?: 'batch' | 'per-op'
  /** Fail poison ops with a retryable error instead (a store that misclassifies bad data). @default false */
  retryable?: boolean
}

/** Fails permanently on poison ops: the whole batch (so the caller must bisect), or per op. */
export class PoisonStore extends FaultyStore {
  constructor(
    inner: Store,
    private readonly options: PoisonOptions,
  ) {
    super(inner)
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    if (this.options.mode === 'per-op') return this.writeGoodOps(ops)
    const poison = ops.find((op) => this.options.isPoison(op))
    if (poison !== undefined) throw poisonError(poison, this.options.retryable)
    return this.inner.writeBatch(ops)
  }

  private async writeGoodOps(ops: readonly StoreOp[]): Promise<BatchResult> {
    const failures: OpFailure[] = []
    const good: StoreOp[] = []
    const goodIndex: number[] = []
    ops.forEach((op, index) => {
      if (this.options.isPoison(op)) failures.push({ index, error: poisonError(op, this.options.retryable) })
      else {
        good.push(op)
        goodIndex.push(index)
      }
    })
    const result = good.length > 0 ? await this.inner.writeBatch(good) : undefined
    if (result?.failures !== undefined && result.failures.length > 0) throw new Error('PoisonStore per-op mode needs an inner store without per-op failures')
    const superseded: SupersededOp[] = (result?.superseded ?? []).map((s) => ({ index: goodIndex[s.index] as number, version: s.version }))
    return { failures, ...(result?.fenced === undefined ? {} : { fenced: result.fenced }), ...(superseded.length > 0 ? { superseded } : {}) }
  }
}

function poisonError(op: StoreOp, retryable = false): StoreError {
  return new StoreError(`poison store: cannot apply "${op.key}" v${op.version} (injected bad row)`, { retryable, code: 'E_POISON' })
}

export interface OutageWindow {
  /** First instant of the outage (clock ms, inclusive). */
  from: number
  /** First instant after the outage (clock ms, exclusive). */
  to: number
}

/** Fails every call (`writeBatch`, `load`, `ping`) with a retryable error during the window. */
export class OutageStore extends FaultyStore {
  constructor(
    inner: Store,
    private readonly clock: Clock,
    private window: OutageWindow,
  ) {
    super(inner)
  }

  /** Whether the store is down now. */
  get down(): boolean {
    const now = this.clock.now()
    return this.window.from <= now && now < this.window.to
  }

  /** Moves the outage window (to end an outage early, or start another). */
  setWindow(window: OutageWindow): void {
    this.window = window
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    return this.guard(() => this.inner.writeBatch(ops))
  }

  protected override async guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.down) throw new StoreError('outage store: connection refused (injected outage)', { retryable: true, code: 'E_OUTAGE' })
    return call()
  }
}

/** Answers every call after `delayMs` of the injected clock (then forwards it). */
export class SlowStore extends FaultyStore {
  constructor(
    inner: Store,
    private readonly clock: Clock,
    private readonly delayMs: number,
  ) {
    super(inner)
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    return this.guard(() => this.inner.writeBatch(ops))
  }

  protected override async guard<T>(call: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, this.delayMs))
    return call()
  }
}

interface HeldBatch {
  readonly ops: readonly StoreOp[]
  readonly go: () => Promise<void>
  readonly fail: (error: unknown) => void
}

/**
 * Holds each batch at a gate until the test calls `release()` or `fail()`, to keep a batch in
 * flight deterministically. `nextBatch()` waits for the next batch to arrive. `open()` stops
 * gating (held batches go too).
 */
export class GatedStore extends FaultyStore {
  private readonly held: HeldBatch[] = []
  private readonly arrived: (readonly StoreOp[])[] = []
  private readonly waiters: ((ops: readonly StoreOp[]) => void)[] = []
  private gating = true

  /** Batches waiting at the gate. */
  get pending(): number {
    return this.held.length
  }

  /** The ops of the next batch to reach the gate (one not yet returned by an earlier call). */
  nextBatch(): Promise<readonly StoreOp[]> {
    const ops = this.arrived.shift()
    if (ops !== undefined) return Promise.resolve(ops)
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /** Lets the oldest held batch through to the inner store; resolves when that call settled. */
  async release(): Promise<void> {
    const batch = this.take()
    await batch.go()
  }

  /** Fails the oldest held batch with `error` (a retryable StoreError by default). */
  fail(error: unknown = new StoreError('gated store: failed by the test', { retryable: true, code: 'E_GATED' })): void {
    this.take().fail(error)
  }

  /** Stops gating: held batches and all later ones go straight through. */
  async open(): Promise<void> {
    this.gating = false
    await Promise.all(this.held.splice(0).map((batch) => batch.go()))
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    const waiter = this.waiters.shift()
    if (waiter !== undefined) waiter(ops)
    else this.arrived.push(ops)
    if (!this.gating) return this.inner.writeBatch(ops)
    return new Promise<BatchResult | void>((resolve, reject) => {
      const go = () => this.inner.writeBatch(ops).then(resolve, reject)
      this.held.push({ ops, go: () => go().then(() => this.settleTurn()), fail: reject })
    })
  }

  private take(): HeldBatch {
    const batch = this.held.shift()
    if (batch === undefined) throw new Error('GatedStore: no batch is held at the gate')
    return batch
  }

  /** Lets the caller's continuation of the released batch run before `release()` resolves. */
  private async settleTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

/**
 * Refuses every op with a permanent error while `refusing` is true, as a store does whose table is
 * missing or whose role lacks a privilege; `ping()` always answers (a database with a missing
 * table answers pings). Set `refusing = false` to "fix the deploy".
 */
export class RefusingStore extends FaultyStore {
  refusing = true
  pings = 0

  constructor(inner: Store) {
    super(inner)
    this.ping = async () => {
      this.pings++
    }
  }

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    if (this.refusing) throw new StoreError('refusing store: relation "cache_entries" does not exist (injected)', { retryable: false, code: 'E_REFUSED' })
    return this.inner.writeBatch(ops)
  }
}

/** While `swallowing`, `writeBatch` never settles (a black-holed connection); later calls go through. */
export class BlackHoleStore extends FaultyStore {
  swallowing = true
  /** Calls that never settled. */
  swallowed = 0

  protected async write(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    if (!this.swallowing) return this.inner.writeBatch(ops)
    this.swallowed++
    return new Promise<never>(() => {})
  }
}
