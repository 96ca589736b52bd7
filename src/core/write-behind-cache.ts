/**
 * WriteBehindCache: the public face of the engine. It validates every call at the door (keys,
 * values, per-write options), applies backpressure, and hands the write to the tier; the flush
 * pipeline takes it to the store later (`engine.ts` wires them).
 *
 *   set ─► validate + encode ─► backpressure (whenFull) ─► tier.write (version, memory, backlog, log)
 *       └─► ack: memory (now) | log (written to the OS) | disk (fsynced) | store (committed)
 *
 * Construction and recovery live in `open-cache.ts`, the tier in `src/tier/embedded/`.
 */
import { EventEmitter } from 'node:events'
import type { MergeKind } from '../contracts/store.js'
import { TierReads } from './tier-reads.js'
import type { DeadLetter, DeadLetterSelector } from '../contracts/dead-letters.js'
import type { CacheEvents, RecoveryReport } from '../contracts/events.js'
import type { CacheOptions, Durability, WriteOptions } from '../contracts/options.js'
import type { CloseReport, FlushCallOptions, FlushReport, ReplayReport } from '../contracts/reports.js'
import type { CacheStats } from '../contracts/stats.js'
import { CacheClosedError, StoreUnavailableError } from '../errors.js'
import { toError } from '../to-error.js'
import type { EmbeddedTier } from '../tier/embedded/embedded-tier.js'
import type { Engine } from './engine.js'
import { checkFlushOptions, withDeadline } from './flush-call.js'
import { openCache } from './open-cache.js'
import { openOnTier } from './cache-modes.js'
import { KeyedOps } from './keyed-ops.js'
import { WriteWatch } from './write-watch.js'
import type { ResolvedOptions } from './resolve-options.js'
import { invalid } from '../validate/check.js'
import { applyMerge, MergeWrite, type MergeSteps } from './merge-write.js'
import { AckMeter } from './ack-meter.js'
import { checkKey, encodeValue, writeDurability, writeTtl } from './validate.js'

const RESOLVED: Promise<void> = Promise.resolve()

export class WriteBehindCache<V = unknown> extends EventEmitter<CacheEvents> {
  /** Opens a cache: validates options, takes the dir, replays the log, starts flushing. */
  static async open<V = unknown>(options: CacheOptions): Promise<WriteBehindCache<V>> {
    if (typeof options === 'object' && options !== null && options.tier !== undefined) return openOnTier<WriteBehindCache<V>>(options)
    return openCache(options, (engine) => new WriteBehindCache<V>(engine))
  }

  private readonly options!: ResolvedOptions
  private readonly tier!: EmbeddedTier
  private readonly engine!: Engine
  /** Counted here, read by `stats()`. */
  private writes = 0
  /** Hits, misses and read-through. */
  private readonly reads!: TierReads<V>
  /** Ack latency per level and the write channel: every write that passed the door checks. */
  private readonly acks!: AckMeter
  private closing: Promise<CloseReport> | undefined
  private mergeSteps: MergeSteps | undefined
  /** Sees every write `apply` makes, for the read-modify-writes under way. */
  private readonly watch = new WriteWatch()
  /** `update` and `getOrSet`, on this cache's own read and write paths. */
  private readonly keyed: KeyedOps<V> = new KeyedOps<V>(
    {
      read: (key) => this.get(key),
      versionOf: (key) => this.tier.versionOf(key),
      cached: (key) => this.peek(key),
      write: (key, value, options) => (value === undefined ? this.delete(key, options) : this.set(key, value, options)),
    },
    this.watch,
  )

  /**
   * Use `WriteBehindCache.open()`. A cache on a shared tier (`src/core/remote/remote-cache.ts`) is a
   * subclass that passes no engine and overrides every public method.
   */
  protected constructor(engine?: Engine) {
    super()
    if (engine === undefined) return
    this.engine = engine
    this.options = engine.options
    this.tier = engine.tier
    this.acks = new AckMeter(engine.diagnostics, RESOLVED)
    this.reads = new TierReads<V>(engine.tier, engine.reader, engine.options.codec)
    engine.attach(this)
  }

  /** Writes `value` under `key`. Resolves when the write is as durable as its level promises. */
  set(key: string, value: V, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('set')
      checkKey(key, this.options.maxKeyBytes)
      const durability = this.durabilityOf(options)
      const started = this.acks.start(durability)
      const encoded = encodeValue(key, value, this.options)
      return this.acks.track('set', key, durability, started, this.write(key, encoded, durability, this.ttlOf(options)))
    } catch (error) {
      return rejected(error)
    }
  }

  /** Deletes `key` (a versioned tombstone is flushed, so an older write cannot bring it back). */
  delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('delete')
      checkKey(key, this.options.maxKeyBytes)
      const durability = this.durabilityOf(options)
      const started = this.acks.start(durability)
      return this.acks.track('delete', key, durability, started, this.write(key, null, durability))
    } catch (error) {
      return rejected(error)
    }
  }

  /**
   * Writes several entries. Every key and value is validated first, so bad input applies nothing;
   * the writes are then applied in order and the promise resolves when all are acknowledged.
   */
  setMany(entries: Iterable<readonly [string, V]>, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('setMany')
      const durability = this.durabilityOf(options)
      const started = this.acks.start(durability)
      const ttlMs = this.ttlOf(options)
      const encoded: Array<[string, string]> = []
      for (const [key, value] of entries) {
        checkKey(key, this.options.maxKeyBytes)
        encoded.push([key, encodeValue(key, value, this.options)])
      }
      return Promise.all(encoded.map(([key, text]) => this.acks.track('set', key, durability, started, this.write(key, text, durability, ttlMs)))).then(() => undefined)
    } catch (error) {
      return rejected(error)
    }
  }

  /** The value of `key`: your own latest write, else the store's (read-through), else undefined. */
  get(key: string): Promise<V | undefined> {
    try {
      this.assertOpen('get')
      checkKey(key, this.options.maxKeyBytes)
      return this.reads.get(key)
    } catch (error) {
      return rejected(error)
    }
  }

  /** Values of several keys, in order; one store round trip for all the misses. */
  async getMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    this.assertOpen('getMany')
    for (const key of keys) checkKey(key, this.options.maxKeyBytes)
    return this.reads.getMany(keys)
  }

  // ---- read-modify-writes and read helpers (keyed-ops.ts) ----

  /**
   * Atomically replaces the value of `key` with `fn(current)`, where `current` is what `get` would
   * return (read-through included); **`undefined` from `fn` deletes the key.** Updates of one key run
   * one at a time, in call order, so none is lost; a `set` or `delete` of the key that lands while
   * `fn` or the read is awaited makes `fn` run again on the new value, at most
   * `UPDATE_MAX_ATTEMPTS` (10) times in all, after which the update rejects with
   * `UpdateConflictError` and writes nothing. So `fn` may run more than once: keep it free of side
   * effects. `fn` throwing (or rejecting) rejects the update and writes nothing. The write is
   * coalesced like any `set`; resolves with the new value once it is acknowledged at its durability.
   */
  update(key: string, fn: (current: V | undefined) => V | undefined | Promise<V | undefined>, options?: WriteOptions): Promise<V | undefined> {
    try {
      this.assertOpen('update')
      checkKey(key, this.options.maxKeyBytes)
      if (typeof fn !== 'function') throw invalid('fn', 'a function (current) => next', fn)
      this.durabilityOf(options)
      return this.keyed.update(key, fn, options)
    } catch (error) {
      return rejected(error)
    }
  }

  /**
   * Whether `key` holds a value, in the cache or else in the store: it reads through like `get`
   * (sharing a load under way, and caching what it finds). A deleted key does not.
   */
  async has(key: string): Promise<boolean> {
    this.assertOpen('has')
    return (await this.get(key)) !== undefined
  }

  /**
   * The cached value of `key`: no read-through, recency untouched; undefined when not cached,
   * deleted, or expired (past `staleWhileRevalidateMs` too: what `get` would read through).
   */
  peek(key: string): V | undefined {
    this.assertOpen('peek')
    checkKey(key, this.options.maxKeyBytes)
    const entry = this.tier.peek(key)
    return entry === undefined || this.tier.expired(entry) ? undefined : this.reads.decode(entry.encoded)
  }

  /** Deletes several keys. Every key is validated first, so bad input deletes nothing; resolves when all are acknowledged. */
  deleteMany(keys: Iterable<string>, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('deleteMany')
      if (typeof keys === 'string') throw invalid('keys', 'an iterable of keys, such as an array', keys)
      this.durabilityOf(options)
      const all = [...keys]
      for (const key of all) checkKey(key, this.options.maxKeyBytes)
      return Promise.all(all.map((key) => this.delete(key, options))).then(() => undefined)
    } catch (error) {
      return rejected(error)
    }
  }

  /**
   * The value of `key` (read-through included); on a miss (neither the cache nor the store holds a
   * live value, so a key deleted in the cache is a miss) calls `loader(key)` and `set`s its result
   * with `options`, resolving once that write is acknowledged. Single-flight: concurrent calls for
   * one key share one read and one `loader` call (a call that joins does not call its own loader,
   * and its options do not apply). A loader that throws rejects every waiter and caches nothing;
   * `undefined` from it caches nothing. A `set` or `delete` of the key that lands while the loader
   * runs wins: the loaded value is not written, and the call resolves with the key's value then
   * (after a delete, the loaded value).
   */
  getOrSet<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options?: WriteOptions): Promise<V | R> {
    try {
      this.assertOpen('getOrSet')
      checkKey(key, this.options.maxKeyBytes)
      if (typeof loader !== 'function') throw invalid('loader', 'a function (key) => value', loader)
      this.durabilityOf(options)
      return this.keyed.getOrSet(key, loader, options)
    } catch (error) {
      return rejected(error)
    }
  }

  /**
   * `getOrSet` under the name cache-manager and bentocache users know: an alias, the same method.
   * Unlike cache-manager's `wrap(key, fn, ttl)`, the third argument is the write options.
   */
  wrap<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options?: WriteOptions): Promise<V | R> {
    return this.getOrSet(key, loader, options)
  }

  /**
   * Resolves once every write made before the call is in the store, or, if it failed for good, in
   * the dead-letter queue: `deadLettered` lists the dead letters of writes made before the call,
   * `superseded` the writes the store refused because it held a newer version (the latest 1000),
   * so two empty lists mean everything is in the store. Waits through outages unless `timeoutMs`
   * or `signal` says otherwise (then it rejects with `FlushTimeoutError`, losing nothing);
   * rejects with `CacheClosedError` if the cache closes first.
   */
  async flush(options: FlushCallOptions = {}): Promise<FlushReport> {
    this.assertOpen('flush')
    const { timeoutMs, signal } = checkFlushOptions(options)
    const mark = await withDeadline(this.engine.drain(), timeoutMs, signal, this.options.clock, () => this.engine.backlogEntries())
    return {
      deadLettered: this.engine.dlq.list({ maxVersion: mark }),
      superseded: this.engine.supersededUpTo(mark),
    }
  }

  /** Counters and gauges: backlog, lag (oldest dirty age), coalescing, flushes, failures. */
  stats(): CacheStats {
    return this.engine.stats({ writes: this.writes, ...this.reads.counts }, this.acks)
  }

  /** Dead letters (writes that could not be flushed), oldest first. */
  deadLetters(filter?: DeadLetterSelector): DeadLetter[] {
    return this.engine.dlq.list(filter)
  }

  /** Sends dead letters to the store again, with their original versions (a newer write wins). */
  replayDeadLetters(filter?: DeadLetterSelector): Promise<ReplayReport> {
    this.assertOpen('replayDeadLetters')
    return this.engine.deadLetters.replay(filter)
  }

  /** Discards dead letters for good; returns how many. */
  dropDeadLetters(filter?: DeadLetterSelector): Promise<number> {
    return this.engine.deadLetters.drop(filter)
  }

  /**
   * With `flush.order: 'global'`: moves the writes that halted flushing (`flush:halted`) to the
   * dead-letter queue, so that flushing goes on past them. The store then never receives them in
   * their place (a replay delivers them late). Writing their keys again is the other way out, and
   * keeps the order; this one needs no room in the backlog. Returns how many writes it skips.
   */
  skipHalted(): number {
    this.assertOpen('skipHalted')
    return this.engine.flusher.skipHalted()
  }

  /**
   * Stops taking writes, drains the backlog for up to `closeTimeoutMs`, then releases the log and
   * the store. Resolves with what could not be flushed (still in the log, where there is one).
   * Safe to call twice: the second call gets the first call's promise.
   */
  close(): Promise<CloseReport> {
    if (this.closing === undefined) {
      this.closing = this.engine.close()
      this.keyed.abandon()
    }
    return this.closing
  }

  /** What `open()` replayed from the dirty log; undefined without a dir. */
  get recovery(): RecoveryReport | undefined {
    return this.engine.recovery
  }

  /** The cache's name (option `name`): the `cache` of every diagnostics-channel message. */
  get name(): string {
    return this.options.name
  }

  get closed(): boolean {
    return this.closing !== undefined
  }

  /**
   * The durability a write's options ask for, checked like the cache's own options. A write
   * without options is answered here, in a few bytes of code that V8 inlines into every write
   * whatever is left of its inlining budget; the checks are a call.
   */
  private durabilityOf(options: WriteOptions | undefined): Durability {
    return options === undefined ? this.options.durability : writeDurability(options, this.options.durability, this.tier.hasLog)
  }

  /** The ttl a write's options ask for (as `durabilityOf`, answered here without options). */
  private ttlOf(options: WriteOptions | undefined): number {
    return options === undefined ? this.options.ttlMs : writeTtl(options, this.options.ttlMs)
  }

  private write(key: string, encoded: string | null, durability: Durability, ttlMs = this.options.ttlMs): Promise<void> {
    if (durability === 'store' && !this.engine.flusher.available) return storeDown()
    if (this.engine.backpressure.canApplyNow()) return this.apply(key, encoded, durability, ttlMs)
    return this.whenFull(key, encoded, durability, ttlMs)
  }

  /** `write` of a merge: the same checks, then its own path (see `apply`). */
  private writeMerge(key: string, write: MergeWrite, durability: Durability): Promise<void> {
    const ttlMs = write.ttlMs ?? this.options.ttlMs
    if (durability === 'store' && !this.engine.flusher.available) return storeDown()
    if (this.engine.backpressure.canApplyNow()) return this.applyMerge(key, write, durability, ttlMs)
    return this.whenFull(key, write, durability, ttlMs)
  }

  /** The backlog is full: `backlog.whenFull` decides (backpressure.ts). */
  private whenFull(key: string, encoded: string | null | MergeWrite, durability: Durability, ttlMs: number): Promise<void> {
    const { backpressure, flusher, scheduler } = this.engine
    if (encoded instanceof MergeWrite && this.options.backlog.whenFull === 'wait') encoded.absent = false // learnt before the wait: read again when admitted
    const bytes = key.length + (encoded === null ? 0 : encoded instanceof MergeWrite ? MergeWrite.BYTES : encoded.length)
    const apply = (level: Durability): Promise<void> => (encoded instanceof MergeWrite ? this.applyMerge(key, encoded, level, ttlMs) : this.apply(key, encoded, level, ttlMs))
    return backpressure.whenFull(bytes, {
      apply: () => (this.closing === undefined ? apply(durability) : Promise.reject(new CacheClosedError('write'))),
      applyThroughStore: () => apply('store'),
      storeUp: flusher.available,
      pump: () => scheduler.makeRoom(),
    })
  }

  /**
   * Applies an admitted set or delete; the promise is its acknowledgement at `durability`. Merges
   * have their own (`applyMerge`), so that V8 compiles each path without the other inlined in it:
   * a process that ran increments would otherwise spend the inlining budget of every set on them.
   */
  private apply(key: string, encoded: string | null, durability: Durability, ttlMs: number): Promise<void> {
    return this.applied(key, this.tier.write(key, encoded, durability, ttlMs), durability)
  }

  /** `apply` of a merge (increment, max, min). */
  private applyMerge(key: string, write: MergeWrite, durability: Durability, ttlMs: number): Promise<void> {
    const applied = this.tier.merge(key, write.merge, write.operand, durability, write.absent, ttlMs)
    if (applied === undefined) return RESOLVED // not cached any more: the merge reads the key and comes again
    write.value = applied.value
    return this.applied(key, applied.version, durability)
  }

  /** What follows every applied write: the notes, the counts, the scheduler; returns its acknowledgement. */
  private applied(key: string, version: number, durability: Durability): Promise<void> {
    const { engine, tier } = this
    engine.reader.noteWrite(key)
    this.watch.noteWrite(key)
    this.writes++
    engine.backpressure.noteWaiting(tier.waiting)
    if (durability === 'store') {
      const committed = engine.writeThroughs.wait(key, version)
      engine.scheduler.afterWrite()
      return committed
    }
    engine.scheduler.afterWrite()
    return durability === 'memory' ? RESOLVED : tier.whenDurable(durability)
  }

  private assertOpen(operation: string): void {
    if (this.closing !== undefined) throw new CacheClosedError(operation)
  }

  // ---- counters: merge writes, coalesced per key and applied exactly once by the store (merge-write.ts) ----

  /**
   * Adds `by` (default 1; negative subtracts) to the number under `key`, a missing or deleted key
   * counting as 0, and resolves with the new value as the cache sees it once the write is as durable
   * as its level promises. Between flushes a key's increments become ONE store op carrying their
   * sum, which the store adds in the statement that writes it, exactly once (README "Counters").
   * A key not cached is read from the store first (once for concurrent callers); after that it is a
   * memory update. Rejects with `InvalidOptionError` when the store does not apply `sum` merges or
   * `by` is not a finite number, and `NotANumberError` when the key holds something else.
   */
  increment(key: string, by = 1, options?: WriteOptions): Promise<number> {
    return this.merge('increment', 'sum', key, by, options)
  }

  /** Raises the number under `key` to `value` if it is below (a missing key takes `value`); resolves with the result. Like `increment`. */
  max(key: string, value: number, options?: WriteOptions): Promise<number> {
    return this.merge('max', 'max', key, value, options)
  }

  /** Lowers the number under `key` to `value` if it is above (a missing key takes `value`); resolves with the result. Like `increment`. */
  min(key: string, value: number, options?: WriteOptions): Promise<number> {
    return this.merge('min', 'min', key, value, options)
  }

  private merge(operation: string, merge: MergeKind, key: string, operand: unknown, options: WriteOptions | undefined): Promise<number> {
    try {
      this.assertOpen(operation)
      checkKey(key, this.options.maxKeyBytes)
      const write = MergeWrite.checked(this.options.store, operation, merge, operand)
      this.mergeSteps ??= {
        tier: this.tier,
        reader: this.engine.reader,
        assertOpen: (op) => this.assertOpen(op),
        remember: (k, loaded) => this.reads.remember(k, loaded),
        // Measured here, not around applyMerge: an applied merge's ack is often this very write's resolved promise.
        write: (k, w, durability) => this.acks.trackMerge(k, durability, w, this.writeMerge(k, w, durability)),
      }
      const durability = this.durabilityOf(options)
      write.started = this.acks.start(durability)
      write.ttlMs = this.ttlOf(options)
      return applyMerge(this.mergeSteps, operation, write, key, durability)
    } catch (error) {
      return rejected(error)
    }
  }
}

function storeDown(): Promise<never> {
  return Promise.reject(new StoreUnavailableError('the flush circuit is open after repeated failures'))
}

function rejected(error: unknown): Promise<never> {
  return Promise.reject(toError(error))
}
