/**
 * The engine's parts, wired together: memory tier, backlog, flusher, scheduler, admission,
 * read-through, versions, dirty log and dead letters. The cache facade and its helpers (open,
 * close, stats, dead-letter handling) all work on one `CacheParts`.
 */
import type { EventEmitter } from 'node:events'
import type { DirtyLog } from '../log/dirty-log.js'
import { CircuitBreaker } from '../flush/circuit.js'
import type { DeadLetterQueue } from '../flush/dead-letters.js'
import { Flusher } from '../flush/flusher.js'
import { FlushScheduler } from '../flush/scheduler.js'
import { Admission } from './admission.js'
import { CoalescingBacklog, OrderedBacklog, type Backlog } from './backlog.js'
import { Checkpointer } from './checkpointer.js'
import { CoarseClock } from './coarse-clock.js'
import { DeadLetterHooks } from './dead-letter-hooks.js'
import { MemoryTier } from './memory-tier.js'
import type { ResolvedOptions } from './resolve-options.js'
import type { PendingOp } from './pending-op.js'
import { ReadThrough } from './read-through.js'
import type { CacheEvents, RecoveryReport, SupersededWrite } from '../contracts/events.js'
import { WriteSupersededError } from '../errors.js'
import type { Counters } from './stats-builder.js'
import { StalenessAlarm } from './staleness-alarm.js'
import { VersionSource } from './versions.js'

/** How many superseded writes `flush()` can report (the counter in stats counts them all). */
const RECENT_SUPERSEDED = 1000

export class CacheParts {
  readonly memory: MemoryTier
  readonly backlog: Backlog
  readonly versions: VersionSource
  readonly circuit: CircuitBreaker
  readonly flusher: Flusher
  readonly scheduler: FlushScheduler
  readonly admission: Admission
  readonly reader: ReadThrough
  readonly deadLetters: DeadLetterHooks
  readonly checkpointer: Checkpointer
  readonly alarm: StalenessAlarm
  readonly counters: Counters = { writes: 0, hits: 0, misses: 0, batches: 0, ops: 0, fenced: 0, failedBatches: 0, deadLettered: 0, superseded: 0, highWaterEntries: 0 }
  /** The latest superseded writes, oldest first (at most `RECENT_SUPERSEDED`). */
  readonly recentSuperseded: SupersededWrite[] = []
  /** What `open()` recovered from the log (undefined without a dir). */
  recovery: RecoveryReport | undefined
  private emitter: EventEmitter<CacheEvents> | undefined
  private fullEpisode = false

  constructor(
    readonly options: ResolvedOptions,
    readonly log: DirtyLog | undefined,
    readonly dlq: DeadLetterQueue,
    versionFloor: number,
  ) {
    const { clock, codec } = options
    this.memory = new MemoryTier(options.memory)
    const coarse = new CoarseClock(clock)
    this.backlog = options.coalesce
      ? new CoalescingBacklog(codec, coarse, (key) => this.memory.peek(key))
      : new OrderedBacklog(codec, coarse)
    this.versions = new VersionSource(clock, versionFloor)
    this.circuit = new CircuitBreaker(
      {
        threshold: options.retry.circuitThreshold,
        baseDelayMs: Math.max(1, options.retry.baseDelayMs),
        maxDelayMs: Math.max(1, options.retry.maxDelayMs),
        onOpen: (e) => this.emit('circuit:open', e),
        onClose: (e) => this.emit('circuit:close', e),
      },
      clock,
    )
    this.deadLetters = new DeadLetterHooks(this)
    this.flusher = new Flusher(options.store, { ...options.retry, batchTimeoutMs: options.flush.batchTimeoutMs }, this.circuit, clock, {
      applied: (op) => this.applied(op),
      superseded: (op, storeVersion) => this.superseded(op, storeVersion),
      landed: (ops) => this.deadLetters.retire(ops),
      deadLetter: (ops, error) => this.deadLetters.add(ops, error),
      flightEnded: () => this.flightEnded(),
      slotFreed: () => this.scheduler.pump(),
      batchDone: (ops, fenced, durationMs) => this.batchDone(ops, fenced, durationMs),
      batchFailed: (ops, error, attempt, retryInMs) => this.batchFailed(ops, error, attempt, retryInMs),
      internalError: (error) => this.emit('warning', { code: 'WB_FLUSH_INTERNAL', message: error.message }),
    })
    this.scheduler = new FlushScheduler(options.flush, this.backlog, this.flusher, this.versions, clock)
    this.admission = new Admission(() => this.isFull(), options.backlog.maxWaiting, options.backlog.maxBytes)
    this.reader = new ReadThrough(options.store)
    this.checkpointer = new Checkpointer(this)
    this.alarm = new StalenessAlarm(this)
  }

  attach(emitter: EventEmitter<CacheEvents>): void {
    this.emitter = emitter
  }

  emit<K extends keyof CacheEvents>(name: K, ...payload: CacheEvents[K]): void {
    ;(this.emitter as unknown as { emit(name: string, ...args: unknown[]): boolean } | undefined)?.emit(name, ...payload)
  }

  /**
   * Waits until every write made so far (those still waiting for room included) is in the store
   * or dead-lettered; resolves with the highest version that covers. Used by flush() and close().
   */
  async drain(): Promise<number> {
    await this.admission.drained()
    const mark = this.versions.current
    await this.scheduler.flushAll()
    return mark
  }

  /** Unflushed entries, in flight included. */
  backlogEntries(): number {
    return this.backlog.size + this.flusher.inFlightOps()
  }

  backlogBytes(): number {
    return this.backlog.bytes + this.flusher.inFlightBytes()
  }

  isFull(): boolean {
    const { maxEntries, maxBytes } = this.options.backlog
    return this.backlogEntries() >= maxEntries || this.backlogBytes() >= maxBytes
  }

  noteBacklogFull(): void {
    if (this.fullEpisode) return
    this.fullEpisode = true
    this.emit('backlog:full', { entries: this.backlogEntries(), bytes: this.backlogBytes() })
  }

  /** An op reached the store: its entry may be clean now, and write-throughs may resolve. */
  private applied(op: PendingOp): void {
    this.counters.ops++
    this.deadLetters.noteApplied(op)
    const entry = op.entry ?? this.memory.peek(op.key)
    if (entry === undefined || entry.version < op.version) return
    if (entry.version === op.version) {
      entry.pinned = false
      this.memory.markClean(entry)
    }
    const waiters = entry.waiters
    if (waiters === undefined) return
    const rest = waiters.filter((w) => w.version > op.version)
    for (const w of waiters) if (w.version <= op.version) w.resolve()
    entry.waiters = rest.length > 0 ? rest : undefined
    if (rest.length === 0) this.scheduler.urgent.delete(op.key)
  }

  /**
   * The store holds a newer version than `op`: the write is not in the store. Versions move above
   * the store's, the cache stops serving the value (the next read goes to the store) unless a
   * newer local write replaced it, and write-throughs that waited for it reject.
   */
  private superseded(op: PendingOp, storeVersion: number): void {
    this.counters.superseded++
    this.versions.observe(storeVersion)
    this.deadLetters.noteApplied(op)
    const write: SupersededWrite = { key: op.key, version: op.version, storeVersion }
    this.recentSuperseded.push(write)
    if (this.recentSuperseded.length > RECENT_SUPERSEDED) this.recentSuperseded.shift()
    this.emit('superseded', write)
    const entry = op.entry ?? this.memory.peek(op.key)
    if (entry === undefined || entry.version < op.version) return
    const waiters = entry.waiters
    if (entry.version === op.version && waiters === undefined) this.memory.invalidate(entry)
    if (waiters === undefined) return
    const rest = waiters.filter((w) => w.version > op.version)
    for (const w of waiters) if (w.version <= op.version) w.reject(new WriteSupersededError(op.key, w.version, storeVersion))
    entry.waiters = rest.length > 0 ? rest : undefined
    if (rest.length === 0) this.scheduler.urgent.delete(op.key)
    if (entry.version === op.version && rest.length === 0) this.memory.invalidate(entry)
  }

  private flightEnded(): void {
    const entries = this.backlogEntries()
    if (entries > this.counters.highWaterEntries) this.counters.highWaterEntries = entries
    this.scheduler.flightEnded()
    this.admission.release()
    if (!this.isFull()) this.fullEpisode = false
    this.checkpointer.request()
    this.alarm.check()
  }

  private batchDone(ops: number, fenced: number, durationMs: number): void {
    this.counters.batches++
    this.counters.fenced += fenced
    this.emit('flush', { ops, fenced, durationMs })
  }

  private batchFailed(ops: number, error: Error, attempt: number, retryInMs: number | undefined): void {
    this.counters.failedBatches++
    this.emit('flush:failed', { ops, error, attempt, retryInMs })
  }
}
