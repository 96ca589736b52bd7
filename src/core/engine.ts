/**
 * The engine: a tier and the flush pipeline, wired together. It builds each part with what that
 * part reads and calls (no part sees the engine), routes the pipeline's outcomes to their owners
 * (the tier, the write-through waiters, the dead-letter handler, the events), drains and closes.
 *
 *   scheduler ─► tier.take ─► flusher (store, retry, bisect, circuit) ─► outcome per op
 *   outcome ─► tier (clean / invalidate / pin) · write-throughs (resolve / reject) ·
 *              dead letters (persist / retire) · events
 *   flight ended ─► scheduler (next batches, flush() waiters) · backpressure (room) ·
 *                   tier.settledThrough (checkpoint) · staleness alarm
 */
import type { EventEmitter } from 'node:events'
import { DeadLetterHandler } from '../dead-letters/handler.js'
import type { DeadLetterQueue } from '../dead-letters/queue.js'
import { CacheClosedError, WriteSupersededError } from '../errors.js'
import { toError } from '../to-error.js'
import type { Diagnostics } from '../diagnostics/channels.js'
import type { CircuitBreaker } from '../flush/circuit.js'
import { cacheCircuit } from './cache-circuit.js'
import { Flusher } from '../flush/flusher.js'
import type { PendingOp } from '../flush/pending-op.js'
import { FlushScheduler } from '../flush/scheduler.js'
import { StalenessAlarm } from '../flush/staleness-alarm.js'
import { WriteThroughs } from '../flush/write-throughs.js'
import type { EmbeddedTier } from '../tier/embedded/embedded-tier.js'
import { Backpressure, Unflushed } from './backpressure.js'
import type { ResolvedOptions } from './resolve-options.js'
import { ReadThrough } from './read-through.js'
import type { CacheEvents, RecoveryReport, SupersededWrite } from '../contracts/events.js'
import type { CloseReport } from '../contracts/reports.js'
import type { CacheStats } from '../contracts/stats.js'
import type { AckMeter } from './ack-meter.js'
import { buildStats, type ReadCounts } from './stats-builder.js'

/** How many superseded writes `flush()` can report (the counter in stats counts them all). */
const RECENT_SUPERSEDED = 1000

export class Engine {
  readonly tier: EmbeddedTier
  readonly circuit: CircuitBreaker
  readonly flusher: Flusher
  readonly scheduler: FlushScheduler
  readonly writeThroughs = new WriteThroughs()
  readonly backpressure: Backpressure
  readonly deadLetters: DeadLetterHandler
  readonly alarm: StalenessAlarm
  readonly reader: ReadThrough
  /** The latest superseded writes, oldest first (at most `RECENT_SUPERSEDED`). */
  private readonly superseded: SupersededWrite[] = []
  /** What backpressure counts against the backlog cap. */
  private readonly unflushed: Unflushed
  /** What `open()` recovered from the log (undefined without a dir). */
  recovery: RecoveryReport | undefined
  private emitter: EventEmitter<CacheEvents> | undefined

  /**
   * `makeTier` builds the tier, given the keys in flight (the flusher owns that set), where its
   * warnings go (`warning` events), the dead letter of a key (held merges wait behind one) and what
   * reloads an entry served stale (`onStale`).
   */
  constructor(
    readonly options: ResolvedOptions,
    makeTier: (
      inFlight: ReadonlySet<string>,
      warn: (code: string, message: string) => void,
      deadLetterOf: (key: string) => { kind: string; version: number } | undefined,
      onStale: (key: string) => void,
    ) => EmbeddedTier,
    readonly dlq: DeadLetterQueue,
    /** Publishes this cache's diagnostics-channel messages (built by `open()`, which hands it to the log too). */
    readonly diagnostics: Diagnostics,
  ) {
    const { clock, retry } = options
    this.circuit = cacheCircuit(options, diagnostics, (name, ...payload) => this.emit(name, ...payload))
    this.flusher = new Flusher(options.store, { ...retry, batchTimeoutMs: options.flush.batchTimeoutMs, order: options.flush.order, name: options.name }, this.circuit, clock, {
      applied: (op) => this.applied(op),
      superseded: (op, storeVersion) => this.supersede(op, storeVersion),
      landed: (ops) => this.deadLetters.retire(ops),
      deadLetter: (ops, error) => this.deadLetters.add(ops, error),
      flightEnded: () => this.flightEnded(),
      slotFreed: () => this.scheduler.pump(),
      batchDone: (ops, fenced, durationMs) => this.emit('flush', { ops, fenced, durationMs }),
      batchFailed: (ops, error, attempt, retryInMs) => this.emit('flush:failed', { ops, error, attempt, retryInMs }),
      internalError: (error) => this.emit('warning', { code: 'WB_FLUSH_INTERNAL', message: error.message }),
      halted: (op, error) => this.emit('flush:halted', { key: op.key, version: op.version, error }),
    })
    const tier = (this.tier = makeTier(
      this.flusher.busy,
      (code, message) => this.emit('warning', { code, message }),
      (key) => dlq.kindOf(key),
      (key) => this.revalidate(key),
    ))
    this.scheduler = new FlushScheduler(options.flush, tier, this.flusher, this.writeThroughs.urgent, clock)
    this.unflushed = new Unflushed(tier, this.flusher.flights)
    this.backpressure = new Backpressure(this.unflushed, options.backlog, (entries, bytes) => {
      diagnostics.backlogFull(entries, bytes)
      this.emit('backlog:full', { entries, bytes })
    })
    this.reader = new ReadThrough(options.store)
    this.deadLetters = new DeadLetterHandler({
      queue: dlq,
      tier,
      store: options.store,
      clock,
      codec: options.codec,
      redeliver: (ops) => this.scheduler.redeliver(ops),
      inFlight: this.flusher.busy,
      failWriteThroughs: (key, version, error) => this.writeThroughs.failed(key, version, error),
      onDeadLetter: (e) => {
        diagnostics.deadLetter(e.key, e.version, e.error)
        this.emit('dead-letter', e)
      },
      warn: options.warn,
      released: (keys, dropped) => {
        tier.released(keys, dropped)
        this.scheduler.pump()
      },
    })
    this.alarm = new StalenessAlarm(
      options.alerts.maxStalenessMs,
      clock,
      () => this.scheduler.oldestAge(),
      (raised, e) => {
        this.emit(raised ? 'alert:staleness' : 'alert:recovered', e)
      },
    )
  }

  attach(emitter: EventEmitter<CacheEvents>): void {
    this.emitter = emitter
  }

  emit<K extends keyof CacheEvents>(name: K, ...payload: CacheEvents[K]): void {
    ;(this.emitter as unknown as { emit(name: string, ...args: unknown[]): boolean } | undefined)?.emit(name, ...payload)
  }

  /** Starts flushing (after recovery). */
  start(): void {
    this.alarm.start()
    this.scheduler.pump()
  }

  /**
   * Waits until every write made so far (those still waiting for room included) is in the store
   * or dead-lettered; resolves with the highest version that covers. Used by flush() and close().
   */
  async drain(): Promise<number> {
    await this.backpressure.drained()
    const mark = this.tier.highestVersion
    await this.scheduler.flushAll()
    return mark
  }

  /** Unflushed entries, in flight included. */
  backlogEntries(): number {
    return this.unflushed.entries()
  }

  backlogBytes(): number {
    return this.unflushed.bytes()
  }

  /** Superseded writes at or below `mark` among the latest ones. */
  supersededUpTo(mark: number): SupersededWrite[] {
    return this.superseded.filter((w) => w.version <= mark)
  }

  /** `reads` and `acks`: what the facade counts and measures. */
  stats(reads: ReadCounts, acks: AckMeter): CacheStats {
    const { backlog } = this.options
    return buildStats({
      reads,
      acks: acks.summaries(),
      batches: { duration: this.flusher.meter.duration.summary(), ops: this.flusher.meter.size.summary() },
      loads: this.reader.loads,
      backlog: {
        entries: this.backlogEntries(),
        bytes: this.backlogBytes(),
        highWaterEntries: this.backpressure.highWaterEntries,
        waiting: this.backpressure.waiting,
        maxEntries: backlog.maxEntries,
        maxBytes: backlog.maxBytes,
      },
      oldestAgeMs: this.scheduler.oldestAge(),
      flush: this.flusher.counts,
      deadLettered: this.deadLetters.deadLettered,
      inFlightBatches: this.flusher.flights.count,
      heldBatches: this.flusher.flights.held,
      memory: this.tier.memoryStats(),
      circuit: this.circuit.state,
      deadLetters: this.dlq.size,
      lastVersion: this.tier.highestVersion,
      log: this.tier.logStats(),
    })
  }

  /**
   * `cache.close()`: drains for up to `closeTimeoutMs`, stops flushing, settles every promise the
   * cache handed out, then releases the log, the dead-letter queue and the store, each cleanup
   * running even if another fails. What could not be flushed in time is reported, and stays in
   * the dirty log (where there is one) for the next `open()`.
   */
  async close(): Promise<CloseReport> {
    const drained = await this.drainWithin(this.options.closeTimeoutMs)
    this.scheduler.stop(new CacheClosedError('finish flush()'))
    this.flusher.stop()
    this.alarm.stop()
    this.backpressure.rejectAll(new CacheClosedError('write'))
    this.writeThroughs.rejectAll(new CacheClosedError('wait for the store'))
    const leftover = this.unflushedKeys()
    const deadLetters = this.dlq.size
    const errors: Error[] = []
    const logOk = await attempt(errors, () => this.tier.close(this.scheduler.lowWater()))
    await attempt(errors, () => this.dlq.close())
    await attempt(errors, async () => this.options.store.close?.())
    return {
      drained: drained && leftover.length === 0,
      unflushed: leftover.length,
      unflushedKeys: leftover.slice(0, 100),
      safeInLog: this.tier.hasLog && logOk,
      deadLetters,
      errors,
    }
  }

  /** Whether the drain finished within `timeoutMs`. */
  private async drainWithin(timeoutMs: number): Promise<boolean> {
    const { clock } = this.options
    let timer: ReturnType<typeof clock.setTimeout> | undefined
    const timeout = new Promise<false>((resolve) => {
      timer = clock.setTimeout(() => resolve(false), timeoutMs)
    })
    const drained = this.drain().then(() => true as const)
    drained.catch(() => {}) // after a timeout the drain is rejected by the stop; nobody waits for it any more
    const result = await Promise.race([drained, timeout])
    if (timer !== undefined) clock.clearTimeout(timer)
    return result
  }

  /**
   * Stale-while-revalidate: `key` was served past its expiry; reload it in the background (sharing
   * the read-through's loads) and let the tier take the store's value unless written since.
   */
  private revalidate(key: string): void {
    const version = this.tier.versionOf(key)
    if (version === undefined) return
    const { codec } = this.options
    this.reader.revalidate(key, (loaded) => {
      this.tier.refreshed(key, version, loaded === undefined ? undefined : { encoded: loaded.encoded ?? codec.encode(loaded.value), version: loaded.version })
    })
  }

  /** An op reached the store: its entry may be clean now, and write-throughs may resolve. */
  private applied(op: PendingOp): void {
    this.deadLetters.noteApplied(op)
    this.tier.applied(op)
    this.writeThroughs.applied(op.key, op.version)
  }

  /**
   * The store holds a newer version than `op`: the write is not in the store. The tier moves its
   * versions above the store's and stops serving the value unless written since; write-throughs
   * that waited for it reject.
   */
  private supersede(op: PendingOp, storeVersion: number): void {
    this.deadLetters.noteApplied(op)
    this.tier.superseded(op, storeVersion)
    const write: SupersededWrite = { key: op.key, version: op.version, storeVersion }
    this.superseded.push(write)
    if (this.superseded.length > RECENT_SUPERSEDED) this.superseded.shift()
    this.emit('superseded', write)
    this.writeThroughs.failed(op.key, op.version, (version) => new WriteSupersededError(op.key, version, storeVersion))
  }

  private flightEnded(): void {
    this.scheduler.flightEnded()
    this.backpressure.roomMade()
    if (this.backpressure.waiting > 0) this.scheduler.makeRoom() // full again with writes still waiting: the next flush now
    this.tier.settledThrough(this.scheduler.lowWater())
    this.alarm.check()
  }

  /** Keys with writes not yet in the store: still dirty, or left in a flight by the stop. */
  private unflushedKeys(): string[] {
    const keys = new Set<string>(this.tier.waitingKeys())
    for (const op of this.flusher.flights.abandoned) keys.add(op.key)
    for (const key of this.flusher.busy) keys.add(key)
    return [...keys]
  }
}

/** Runs one cleanup, collecting its error; true when it succeeded. */
async function attempt(errors: Error[], cleanup: () => Promise<unknown>): Promise<boolean> {
  try {
    await cleanup()
    return true
  } catch (error) {
    errors.push(toError(error))
    return false
  }
}
