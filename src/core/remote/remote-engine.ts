/**
 * The engine of a cache on a shared tier (Redis): the same flush pipeline as the embedded engine
 * (scheduler, flusher with its retry, bisection and circuit, write-through waiters) driven over
 * `RedisTier`, whose dirty set every process sees. Outcomes go back to Redis by compare-and-swap;
 * dead letters go to the tier's streams. Because other processes write and flush the same tier,
 * it polls the tier's state every `flush.intervalMs` (every `DRAIN_POLL_MS` while a `flush()` waits)
 * and lets the scheduler look again; that is what resolves a `flush()` whose writes another instance
 * flushed. After a flight, the acknowledgements' own replies update their shards' state.
 *
 *   scheduler ─► tier.take (lease + claim) ─► flusher (store) ─► outcome per op
 *   outcome ─► tier (CAS ack / supersede / dead letter) · write-throughs · events
 */
import type { EventEmitter } from 'node:events'
import type { DeadLetter } from '../../contracts/dead-letters.js'
import type { CacheEvents, SupersededWrite } from '../../contracts/events.js'
import type { CloseReport } from '../../contracts/reports.js'
import type { CacheStats } from '../../contracts/stats.js'
import { CacheClosedError, DeadLetteredError, RedisUnavailableError, WriteLostError, WriteSupersededError } from '../../errors.js'
import type { CircuitBreaker } from '../../flush/circuit.js'
import { cacheCircuit } from '../cache-circuit.js'
import { Flusher } from '../../flush/flusher.js'
import type { PendingOp } from '../../flush/pending-op.js'
import { describeError } from '../../flush/retry.js'
import { FlushScheduler } from '../../flush/scheduler.js'
import { WriteThroughs } from '../../flush/write-throughs.js'
import type { RedisTier } from '../../tier/redis/redis-tier.js'
import { unanswered } from '../../tier/redis/unanswered.js'
import { toError } from '../../to-error.js'
import { ReadThrough } from '../read-through.js'
import type { ResolvedOptions } from '../resolve-options.js'
import { buildStats, type ReadCounts } from '../stats-builder.js'
import { AckMeter } from '../ack-meter.js'
import { Diagnostics } from '../../diagnostics/channels.js'

/** A promise no write returns (every write on this tier waits for Redis): the ack meter times them all. */
const RESOLVED = Promise.resolve()

const RECENT_SUPERSEDED = 1000
/** How often a `flush()` or `close()` waiting for the tier reads it again. */
const DRAIN_POLL_MS = 50

export class RemoteEngine {
  readonly circuit: CircuitBreaker
  readonly flusher: Flusher
  readonly scheduler: FlushScheduler
  readonly writeThroughs = new WriteThroughs()
  readonly reader: ReadThrough
  private readonly superseded: SupersededWrite[] = []
  /** The latest dead letters this process made (the tier's streams hold every instance's). */
  private readonly letters: DeadLetter[] = []
  private deadLettered = 0
  private emitter: EventEmitter<CacheEvents> | undefined
  private poll: ReturnType<typeof setInterval> | undefined
  private stopped = false
  /** Keys whose write-throughs are being checked against the store (`heldAt`). */
  private readonly checking = new Set<string>()
  /** Publishes this cache's diagnostics-channel messages. */
  readonly diagnostics: Diagnostics
  /** Ack latency per level and the write channel, for every write that passed the door checks. */
  readonly acks: AckMeter

  constructor(
    readonly options: ResolvedOptions,
    readonly tier: RedisTier,
  ) {
    const { clock, retry } = options
    const diagnostics = (this.diagnostics = new Diagnostics(options.name))
    this.acks = new AckMeter(diagnostics, RESOLVED)
    this.circuit = cacheCircuit(options, diagnostics, (name, ...payload) => this.emit(name, ...payload))
    this.flusher = new Flusher(options.store, { ...retry, batchTimeoutMs: options.flush.batchTimeoutMs, order: 'key', name: options.name }, this.circuit, clock, {
      applied: (op) => {
        tier.applied(op)
        this.writeThroughs.applied(op.key, op.version)
      },
      superseded: (op, storeVersion) => this.supersede(op, storeVersion),
      landed: () => undefined,
      deadLetter: (ops, error) => this.deadLetter(ops, error),
      retrying: (ops, delayMs) => tier.retrying(ops, delayMs),
      flightEnded: () => this.flightEnded(),
      slotFreed: () => this.scheduler.pump(),
      batchDone: (ops, fenced, durationMs) => this.emit('flush', { ops, fenced, durationMs }),
      batchFailed: (ops, error, attempt, retryInMs) => this.emit('flush:failed', { ops, error, attempt, retryInMs }),
      internalError: (error) => this.emit('warning', { code: 'WB_FLUSH_INTERNAL', message: error.message }),
    })
    this.scheduler = new FlushScheduler(options.flush, tier, this.flusher, this.writeThroughs.urgent, clock)
    this.reader = new ReadThrough(options.store)
  }

  attach(emitter: EventEmitter<CacheEvents>): void {
    this.emitter = emitter
  }

  emit<K extends keyof CacheEvents>(name: K, ...payload: CacheEvents[K]): void {
    ;(this.emitter as unknown as { emit(name: string, ...args: unknown[]): boolean } | undefined)?.emit(name, ...payload)
  }

  /** Starts polling the tier and flushing. */
  start(): void {
    this.poll = setInterval(() => void this.look(), this.options.flush.intervalMs)
    this.poll.unref()
    this.scheduler.pump()
  }

  /** A key with a write-through waiting was found clean at `version` in Redis: another instance flushed it. */
  settledElsewhere(key: string, version: number): void {
    this.writeThroughs.applied(key, version)
  }

  /**
   * A key with a write-through waiting is in Redis at `held` (0: not there): nothing will flush a
   * version above it, so a waiter above it was lost in a failover, unless the store holds it (an
   * old primary flushed it before it died). The store is read: what it holds resolves, the rest
   * rejects with `WriteLostError`. A failed read leaves them waiting for the next look.
   */
  heldAt(key: string, held: number): void {
    if (this.checking.has(key) || !this.writeThroughs.waitsAbove(key, held)) return
    this.checking.add(key)
    this.storedVersion(key)
      .then(
        ({ stored, tombstones }) => this.writeThroughs.lost(key, held, stored, (version) => new WriteLostError(key, version), !tombstones),
        () => {},
      )
      .finally(() => this.checking.delete(key))
      .catch(() => {})
  }

  /**
   * The store's version of `key` (0: none), tombstones included when the store can tell them
   * (`Store.versions`); else its live row's (`load`), and a delete cannot be told from no row.
   */
  private async storedVersion(key: string): Promise<{ stored: number; tombstones: boolean }> {
    const versions = await this.options.store.versions?.([key])
    if (versions !== undefined) return { stored: versions.get(key) ?? 0, tombstones: true }
    const entry = await (this.reader.loadMany([key])[0]?.entry ?? Promise.resolve(undefined))
    return { stored: entry?.version ?? 0, tombstones: false }
  }

  /**
   * Resolves once every write made to the tier before the call (by any instance) is in the store or
   * dead-lettered (by any instance). While it waits, the tier is read every `DRAIN_POLL_MS`, not
   * every interval: the writes may sit in shards another instance holds the lease of, or held.
   * Rejects with `RedisUnavailableError` (`'flush'`) when Redis does not answer, as it starts or
   * while it waits (a read of the tier failed: the connection is gone or Redis did not answer within
   * `commandTimeoutMs`): nothing it waits for can move then, and the writes stay dirty in Redis.
   */
  async drain(): Promise<number> {
    await this.tier.refresh().catch((error: unknown) => {
      throw unanswered(error, 'flush')
    })
    const mark = this.tier.highestVersion
    let down: (error: unknown) => void = () => {}
    const unanswering = new Promise<never>((_, reject) => (down = reject))
    let looking = false
    const fast = setInterval(() => {
      if (looking) return // a read still waiting for Redis: one at a time
      looking = true
      void this.look(down).finally(() => (looking = false))
    }, DRAIN_POLL_MS)
    const flushed = this.scheduler.flushAll()
    try {
      await Promise.race([flushed, unanswering])
    } finally {
      clearInterval(fast)
      flushed.catch(() => {}) // rejected later by close() when Redis never answered
    }
    return mark
  }

  /** Dead letters this process made of writes at or below `mark`, among the latest ones. */
  deadLettersUpTo(mark: number): DeadLetter[] {
    return this.letters.filter((l) => l.version <= mark)
  }

  supersededUpTo(mark: number): SupersededWrite[] {
    return this.superseded.filter((w) => w.version <= mark)
  }

  stats(reads: ReadCounts): CacheStats {
    const entries = this.tier.waiting
    return buildStats({
      reads,
      acks: this.acks.summaries(),
      batches: { duration: this.flusher.meter.duration.summary(), ops: this.flusher.meter.size.summary() },
      loads: this.reader.loads,
      // Bytes are not tracked on this tier, so no byte cap applies (backlog.maxBytes is not enforced).
      backlog: { entries, bytes: 0, highWaterEntries: entries, waiting: 0, maxEntries: this.options.backlog.maxEntries, maxBytes: Number.POSITIVE_INFINITY },
      oldestAgeMs: this.scheduler.oldestAge(),
      flush: this.flusher.counts,
      deadLettered: this.deadLettered,
      inFlightBatches: this.flusher.flights.count,
      heldBatches: this.flusher.flights.held,
      memory: { entries: 0, bytes: 0, evictions: 0, expired: 0 },
      circuit: this.circuit.state,
      deadLetters: this.tier.deadLetterCount,
      lastVersion: this.tier.highestVersion,
      log: undefined,
    })
  }

  /**
   * Drains for up to `closeTimeoutMs`, stops flushing and polling, settles every promise handed
   * out, waits for outcomes on their way to Redis, gives up its shard leases, then closes the store. What is left stays dirty
   * in Redis, for any other instance or the next one.
   */
  async close(): Promise<CloseReport> {
    const drained = await this.drainWithin(this.options.closeTimeoutMs)
    this.stopped = true
    if (this.poll !== undefined) clearInterval(this.poll)
    this.scheduler.stop(new CacheClosedError('finish flush()'))
    this.flusher.stop()
    this.writeThroughs.rejectAll(new CacheClosedError('wait for the store'))
    const errors: Error[] = []
    await this.tier.settled().catch((e: unknown) => errors.push(toError(e)))
    await this.tier.releaseLeases().catch((e: unknown) => errors.push(toError(e)))
    await this.tier.refresh().catch((e: unknown) => errors.push(toError(e)))
    await Promise.resolve(this.options.store.close?.()).catch((e: unknown) => errors.push(toError(e)))
    const unflushed = this.tier.waiting
    return { drained: drained && unflushed === 0, unflushed, unflushedKeys: [], safeInLog: false, deadLetters: this.tier.deadLetterCount, errors }
  }

  private async drainWithin(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))
    // A drain that fails (Redis unreachable) ends it as undrained: close() goes on with its cleanups.
    const drained = this.drain().then(
      () => true,
      () => false,
    )
    const result = await Promise.race([drained, timeout])
    clearTimeout(timer)
    return result
  }

  /** Reads the tier's state again, then lets the scheduler start batches and resolve `flush()` calls. */
  /**
   * Reads the tier's state, then lets the scheduler take what is due. When Redis is unreachable the
   * next look tries again; silence (not an answer such as a Cluster's refusal mid-failover or a
   * script's error) is also told to `silent` (a drain's wait ends on it). Never rejects.
   */
  private look(silent?: (error: RedisUnavailableError) => void): Promise<void> {
    return this.tier.refresh().then(
      () => {
        if (!this.stopped) this.scheduler.flightEnded()
      },
      (error: unknown) => {
        const typed = unanswered(error, 'flush')
        if (typed instanceof RedisUnavailableError) silent?.(typed)
      },
    )
  }

  /**
   * A flight ended: once its acknowledgements are in Redis (each brings its shard's state back,
   * `snapshot.ts`), more batches may go and `flush()` calls may be done. No refresh of every shard
   * here (it cost a stats call per shard per flight); the polls read the whole tier.
   */
  private flightEnded(): void {
    this.scheduler.flightEnded()
    this.tier.settled().then(
      () => {
        if (!this.stopped) this.scheduler.flightEnded()
      },
      () => {},
    )
  }

  private supersede(op: PendingOp, storeVersion: number): void {
    this.tier.superseded(op, storeVersion)
    const write: SupersededWrite = { key: op.key, version: op.version, storeVersion }
    this.superseded.push(write)
    if (this.superseded.length > RECENT_SUPERSEDED) this.superseded.shift()
    this.writeThroughs.failed(op.key, op.version, (v) => new WriteSupersededError(op.key, v, storeVersion))
    this.emit('superseded', write)
  }

  private async deadLetter(ops: readonly PendingOp[], error: Error): Promise<void> {
    await this.tier.deadLetter(ops, error)
    this.deadLettered += ops.length
    const now = Date.now()
    for (const op of ops) {
      this.letters.push({
        key: op.key,
        version: op.version,
        kind: op.kind,
        encoded: op.kind === 'set' ? op.encoded : null,
        error: describeError(error),
        attempts: op.attempts,
        firstFailedAt: op.firstFailedAt || now,
        lastFailedAt: now,
      })
      if (this.letters.length > RECENT_SUPERSEDED) this.letters.shift()
      this.writeThroughs.failed(op.key, op.version, (v) => new DeadLetteredError(op.key, v, error))
      this.diagnostics.deadLetter(op.key, op.version, error)
      this.emit('dead-letter', { key: op.key, version: op.version, error })
    }
  }
}
