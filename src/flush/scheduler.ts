/**
 * Decides when batches go. A batch is taken from the backlog when:
 *   - the interval ticks (everything dirty at that moment is drained),
 *   - the backlog holds `triggerEntries` (a full batch with `coalesce: false`; backlog pressure
 *     with coalescing, where flushing a key early would forfeit coalescing its next writes),
 *   - the oldest dirty write reaches `maxDelayMs` (bounded staleness, however hot the key),
 *   - a write waits for room in a full backlog (`whenFull: 'wait'`; everything dirty then is
 *     drained, as at a tick: a cap below `triggerEntries`, or a full Redis shard, flushes at once),
 *   - `flush()` or `close()` asks (everything written before the call is drained),
 *   - a write at durability `store` waits for its key (that key goes first),
 *   - dead letters are replayed (`redeliver`: same batch size, same concurrency as any flush).
 * At most `concurrency` active flights run at once (flights holding refused writes do not count),
 * and while the circuit is open only one, to carry the probe, when no other is active.
 *
 * In global order (`order: 'global'`) one flight runs at a time, held or not, so that a batch
 * being retried holds back every later one; the tier gives batches in version order (see
 * `DirtyTier.take`), and write-throughs wait for their turn instead of going first.
 *
 * It also tracks the low-water mark (every version at or below it is flushed or superseded) that
 * resolves `flush()` calls and is handed to the tier as flights end (the embedded tier checkpoints
 * its log with it).
 */
import type { Clock, TimerHandle } from '../contracts/clock.js'
import type { FlushOptions } from '../contracts/options.js'
import { CacheClosedError } from '../errors.js'
import type { DirtyTier } from './dirty-tier.js'
import type { Flusher } from './flusher.js'
import type { PendingOp } from './pending-op.js'

interface FlushWaiter {
  readonly mark: number
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

/** Dead letters sent again, waiting for a flight slot; `done` resolves when their flights ended. */
interface Redelivery {
  ops: PendingOp[]
  flights: Array<Promise<void>>
  done: () => void
}

export class FlushScheduler {
  private drainMark = 0
  private lastDrainAt: number
  private timer: TimerHandle | undefined
  private timerDue = Infinity
  private pumpQueued = false
  private waiters: FlushWaiter[] = []
  private redeliveries: Redelivery[] = []
  /** True while an asynchronous `tier.take` is out: no second take starts before it settles. */
  private taking = false
  private stopped = false

  constructor(
    private readonly options: Required<FlushOptions>,
    private readonly tier: DirtyTier,
    private readonly flusher: Flusher,
    /** Keys with a write-through waiting (owned by `WriteThroughs`): taken before anything else. */
    private readonly urgent: ReadonlyMap<string, unknown>,
    private readonly clock: Clock,
  ) {
    this.lastDrainAt = clock.now()
  }

  /** Every version at or below this is in the store or superseded by a newer flushed one. */
  lowWater(): number {
    const a = this.tier.lowestWaiting()
    const b = this.flusher.flights.lowestVersion()
    if (a === undefined && b === undefined) return this.tier.highestVersion
    return Math.min(a ?? Infinity, b ?? Infinity) - 1
  }

  /** Age of the oldest unflushed write, 0 when there is none. */
  oldestAge(): number {
    const since = Math.min(this.tier.oldestWaiting() ?? Infinity, this.flusher.flights.oldestSince() ?? Infinity)
    return since === Infinity ? 0 : Math.max(0, this.clock.now() - since)
  }

  /** After every write: a full backlog flushes at once; otherwise make sure a timer is armed. */
  afterWrite(): void {
    if (this.tier.waiting >= this.options.triggerEntries || this.urgent.size > 0) this.queuePump()
    else if (this.timer === undefined) this.arm()
  }

  /**
   * A write waits for room (`whenFull: 'wait'`): everything dirty now goes, as at an interval tick,
   * without waiting for it. Calls while that drain runs add nothing but the writes made since, so
   * any number of waiting writes start one flush, not one each.
   */
  makeRoom(): void {
    this.drainMark = Math.max(this.drainMark, this.tier.highestVersion)
    this.pump()
  }

  /**
   * Sends `ops` (replayed dead letters) through the pipeline like any flush: in batches of at most
   * `batchSize`, within `concurrency`, after the keys' current flights. Resolves when all of their
   * flights ended (never rejects; outcomes go to the flusher's hooks); at once after `stop()`.
   */
  redeliver(ops: PendingOp[]): Promise<void> {
    if (this.stopped || ops.length === 0) return Promise.resolve()
    return new Promise<void>((done) => {
      this.redeliveries.push({ ops, flights: [], done })
      this.pump()
    })
  }

  /** Resolves once everything written before the call is flushed or dead-lettered. */
  flushAll(): Promise<void> {
    const mark = this.tier.highestVersion
    this.drainMark = Math.max(this.drainMark, mark)
    this.pump()
    if (this.lowWater() >= mark) return Promise.resolve()
    if (this.stopped) return Promise.reject(new CacheClosedError('flush'))
    return new Promise<void>((resolve, reject) => this.waiters.push({ mark, resolve, reject }))
  }

  /** Called whenever a flight ends: more batches may go and `flush()` calls may be done. */
  flightEnded(): void {
    this.pump()
    this.resolveWaiters()
  }

  /** Starts as many flights as allowed and due: replayed dead letters first, then the tier's ops. */
  pump(): void {
    if (this.stopped || this.taking) return
    while (this.canStart()) {
      if (this.startRedelivery()) continue
      if (!this.due()) break
      const taken = this.tier.take(this.options.batchSize, this.flusher.busy, this.first())
      if (!Array.isArray(taken)) {
        this.takeLater(taken)
        return
      }
      if (taken.length === 0) break
      void this.flusher.start(taken)
    }
    this.arm()
  }

  /** Stops scheduling; `flushAll()` calls still waiting reject with `error` (nothing is lost: it is in the log or reported). */
  stop(error: Error): void {
    this.stopped = true
    for (const r of this.redeliveries.splice(0)) r.done()
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(error)
  }

  /** Key order: up to `concurrency` active flights. Global order: one flight, held or not (nothing passes it). */
  private canStart(): boolean {
    if (this.options.order === 'global') return this.flusher.flights.count === 0
    return this.flusher.canStart(this.options.concurrency)
  }

  /** The keys to take before the rest: those with a write-through waiting, except in global order. */
  private first(): ReadonlyMap<string, unknown> | undefined {
    return this.urgent.size > 0 && this.options.order !== 'global' ? this.urgent : undefined
  }

  private due(): boolean {
    const waiting = this.tier.waiting
    if (waiting === 0) return false
    if (waiting >= this.options.triggerEntries || this.urgent.size > 0) return true
    if ((this.tier.lowestWaiting() ?? Infinity) <= this.drainMark) return true
    return (this.tier.oldestWaiting() ?? Infinity) <= this.clock.now() - this.options.maxDelayMs
  }

  /** An asynchronous take (a tier over the network): start its flight when it answers, then pump again. */
  private takeLater(taken: Promise<PendingOp[]>): void {
    this.taking = true
    taken.then(
      (ops) => {
        this.taking = false
        if (ops.length > 0 && !this.stopped) void this.flusher.start(ops)
        this.pump()
      },
      () => {
        // A failed claim changed nothing in the tier: the next tick or write tries again.
        this.taking = false
        this.arm()
      },
    )
  }

  /** Starts one batch of the oldest redelivery whose ops' keys are free; false when none can go. */
  private startRedelivery(): boolean {
    for (const r of this.redeliveries) {
      const batch: PendingOp[] = []
      const rest: PendingOp[] = []
      for (const op of r.ops) (batch.length < this.options.batchSize && !this.flusher.busy.has(op.key) ? batch : rest).push(op)
      if (batch.length === 0) continue
      r.ops = rest
      r.flights.push(this.flusher.start(batch))
      if (rest.length === 0) {
        this.redeliveries.splice(this.redeliveries.indexOf(r), 1)
        void Promise.all(r.flights).then(r.done)
      }
      return true
    }
    return false
  }

  private queuePump(): void {
    if (this.pumpQueued) return
    this.pumpQueued = true
    queueMicrotask(() => {
      this.pumpQueued = false
      this.pump()
    })
  }

  /** Arms the timer for the next interval tick or staleness deadline, whichever is first. */
  private arm(): void {
    if (this.stopped || this.tier.waiting === 0) return
    const now = this.clock.now()
    // An owed interval tick fires at once; a staleness deadline already passed does not re-arm
    // (its keys are busy or flights are full, and the end of a flight pumps again).
    let due = Math.max(now, this.lastDrainAt + this.options.intervalMs)
    const stale = (this.tier.oldestWaiting() ?? Infinity) + this.options.maxDelayMs
    if (stale > now && stale < due) due = stale
    if (this.timer !== undefined && this.timerDue <= due) return
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timerDue = due
    this.timer = this.clock.setTimeout(() => this.tick(), due - now)
    this.timer.unref?.()
  }

  private tick(): void {
    this.timer = undefined
    this.timerDue = Infinity
    this.tier.tick()
    const now = this.clock.now()
    if (now >= this.lastDrainAt + this.options.intervalMs) {
      this.lastDrainAt = now
      this.drainMark = Math.max(this.drainMark, this.tier.highestVersion)
    }
    this.pump()
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return
    const low = this.lowWater()
    const still: FlushWaiter[] = []
    for (const w of this.waiters) {
      if (w.mark <= low) w.resolve()
      else still.push(w)
    }
    this.waiters = still
  }
}
