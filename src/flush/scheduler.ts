/**
 * Decides when batches go. A batch is taken from the backlog when:
 *   - the interval ticks (everything dirty at that moment is drained),
 *   - the backlog holds `triggerEntries` (a full batch with `coalesce: false`; backlog pressure
 *     with coalescing, where flushing a key early would forfeit coalescing its next writes),
 *   - the oldest dirty write reaches `maxDelayMs` (bounded staleness, however hot the key),
 *   - `flush()` or `close()` asks (everything written before the call is drained),
 *   - a write at durability `store` waits for its key (that key goes first).
 * At most `concurrency` active flights run at once (flights holding refused writes do not count),
 * and while the circuit is open only one, to carry the probe, when no other is active.
 *
 * It also tracks the low-water mark (every version at or below it is flushed or superseded) that
 * resolves `flush()` calls and feeds the log checkpoint.
 */
import type { Clock, TimerHandle } from '../contracts/clock.js'
import type { Backlog } from '../core/backlog.js'
import type { FlushOptions } from '../contracts/options.js'
import type { VersionSource } from '../core/versions.js'
import { CacheClosedError } from '../errors.js'
import type { Flusher } from './flusher.js'

interface FlushWaiter {
  readonly mark: number
  readonly resolve: () => void
  readonly reject: (error: Error) => void
}

export class FlushScheduler {
  /** Keys with a write-through waiting; taken before anything else. */
  readonly urgent = new Set<string>()
  private drainMark = 0
  private lastDrainAt: number
  private timer: TimerHandle | undefined
  private timerDue = Infinity
  private pumpQueued = false
  private waiters: FlushWaiter[] = []
  private stopped = false

  constructor(
    private readonly options: Required<FlushOptions>,
    private readonly backlog: Backlog,
    private readonly flusher: Flusher,
    private readonly versions: VersionSource,
    private readonly clock: Clock,
  ) {
    this.lastDrainAt = clock.now()
  }

  /** Every version at or below this is in the store or superseded by a newer flushed one. */
  lowWater(): number {
    const a = this.backlog.lowestVersion()
    const b = this.flusher.lowestVersion()
    if (a === undefined && b === undefined) return this.versions.current
    return Math.min(a ?? Infinity, b ?? Infinity) - 1
  }

  /** Age of the oldest unflushed write, 0 when there is none. */
  oldestAge(): number {
    const since = Math.min(this.backlog.oldestSince() ?? Infinity, this.flusher.oldestSince() ?? Infinity)
    return since === Infinity ? 0 : Math.max(0, this.clock.now() - since)
  }

  /** After every write: a full backlog flushes at once; otherwise make sure a timer is armed. */
  afterWrite(): void {
    if (this.backlog.size >= this.options.triggerEntries || this.urgent.size > 0) this.queuePump()
    else if (this.timer === undefined) this.arm()
  }

  /** Resolves once everything written before the call is flushed or dead-lettered. */
  flushAll(): Promise<void> {
    const mark = this.versions.current
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

  /** Starts as many flights as allowed and due. */
  pump(): void {
    if (this.stopped) return
    while (this.flusher.canStart(this.options.concurrency) && this.due()) {
      const ops = this.backlog.take(this.options.batchSize, this.flusher.busy, this.urgent.size > 0 ? this.urgent : undefined)
      if (ops.length === 0) break
      void this.flusher.start(ops)
    }
    this.arm()
  }

  /** Stops scheduling; `flushAll()` calls still waiting reject with `error` (nothing is lost: it is in the log or reported). */
  stop(error: Error): void {
    this.stopped = true
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer)
    this.timer = undefined
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(error)
  }

  private due(): boolean {
    if (this.backlog.size === 0) return false
    if (this.backlog.size >= this.options.triggerEntries || this.urgent.size > 0) return true
    if ((this.backlog.lowestVersion() ?? Infinity) <= this.drainMark) return true
    return (this.backlog.oldestSince() ?? Infinity) <= this.clock.now() - this.options.maxDelayMs
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
    if (this.stopped || this.backlog.size === 0) return
    const now = this.clock.now()
    // An owed interval tick fires at once; a staleness deadline already passed does not re-arm
    // (its keys are busy or flights are full, and the end of a flight pumps again).
    let due = Math.max(now, this.lastDrainAt + this.options.intervalMs)
    const stale = (this.backlog.oldestSince() ?? Infinity) + this.options.maxDelayMs
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
    this.versions.catchUp()
    const now = this.clock.now()
    if (now >= this.lastDrainAt + this.options.intervalMs) {
      this.lastDrainAt = now
      this.drainMark = Math.max(this.drainMark, this.versions.current)
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
