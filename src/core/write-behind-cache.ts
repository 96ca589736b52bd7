/**
 * WriteBehindCache: the public face of the engine. A write is validated, versioned, applied to
 * the memory tier and the backlog, appended to the dirty log (with a `dir`), and acknowledged at
 * its durability level; the flush scheduler and the flusher take it to the store later.
 *
 *   set ─► validate ─► admission (backlog cap) ─► version ─► memory tier + backlog ─► log
 *       └─► ack: memory (now) | log (written to the OS) | disk (fsynced) | store (committed)
 *
 * A `log`/`disk` write is revocable until its record reached the OS: if that write(2) fails it is
 * rejected and rolled back (revoke.ts), and no batch is taken before the log buffer is written.
 *
 * Construction and recovery live in `open-cache.ts`, dead letters in `dead-letter-hooks.ts`.
 */
import { EventEmitter } from 'node:events'
import type { LoadedEntry } from '../contracts/store.js'
import type { Clock } from '../contracts/clock.js'
import { BacklogFullError, CacheClosedError, FlushTimeoutError, StoreUnavailableError } from '../errors.js'
import type { FlushScheduler } from '../flush/scheduler.js'
import type { DeadLetter, DeadLetterSelector } from '../contracts/dead-letters.js'
import type { Admission } from './admission.js'
import type { Backlog } from './backlog.js'
import type { CacheParts } from './cache-parts.js'
import type { CloseReport, FlushCallOptions, FlushReport, ReplayReport } from '../contracts/reports.js'
import { closeCache } from './close.js'
import type { DeadLetterHooks } from './dead-letter-hooks.js'
import { openCache } from './open-cache.js'
import type { Entry, MemoryTier } from './memory-tier.js'
import { checkWriteOptionNames } from './option-names.js'
import { oneOf } from '../validate/check.js'
import { DURABILITIES, type CacheOptions, type Durability, type WriteOptions } from '../contracts/options.js'
import type { ResolvedOptions } from './resolve-options.js'
import type { ReadThrough } from './read-through.js'
import type { CacheEvents, RecoveryReport } from '../contracts/events.js'
import type { CacheStats } from '../contracts/stats.js'
import { buildStats, type Counters } from './stats-builder.js'
import { checkKey, encodeValue } from './validate.js'
import type { VersionSource } from './versions.js'

const RESOLVED: Promise<void> = Promise.resolve()

export class WriteBehindCache<V = unknown> extends EventEmitter<CacheEvents> {
  /** Opens a cache: validates options, takes the dir, replays the log, starts flushing. */
  static async open<V = unknown>(options: CacheOptions): Promise<WriteBehindCache<V>> {
    return openCache(options, (parts) => new WriteBehindCache<V>(parts))
  }

  private readonly options: ResolvedOptions
  private readonly memory: MemoryTier
  private readonly backlog: Backlog
  private readonly scheduler: FlushScheduler
  private readonly admission: Admission
  private readonly reader: ReadThrough
  private readonly versions: VersionSource
  private readonly deadLetterHooks: DeadLetterHooks
  private readonly counters: Counters
  private closing: Promise<CloseReport> | undefined

  /** @internal use `WriteBehindCache.open()` */
  constructor(private readonly parts: CacheParts) {
    super()
    this.options = parts.options
    this.memory = parts.memory
    this.backlog = parts.backlog
    this.scheduler = parts.scheduler
    this.admission = parts.admission
    this.reader = parts.reader
    this.versions = parts.versions
    this.deadLetterHooks = parts.deadLetters
    this.counters = parts.counters
    parts.attach(this)
  }

  /** Writes `value` under `key`. Resolves when the write is as durable as its level promises. */
  set(key: string, value: V, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('set')
      checkKey(key, this.options.maxKeyBytes)
      const durability = this.durabilityOf(options)
      return this.write(key, encodeValue(key, value, this.options), durability)
    } catch (error) {
      return rejected(error)
    }
  }

  /** Deletes `key` (a versioned tombstone is flushed, so an older write cannot bring it back). */
  delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      this.assertOpen('delete')
      checkKey(key, this.options.maxKeyBytes)
      return this.write(key, null, this.durabilityOf(options))
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
      const encoded: Array<[string, string]> = []
      for (const [key, value] of entries) {
        checkKey(key, this.options.maxKeyBytes)
        encoded.push([key, encodeValue(key, value, this.options)])
      }
      return Promise.all(encoded.map(([key, text]) => this.write(key, text, durability))).then(() => undefined)
    } catch (error) {
      return rejected(error)
    }
  }

  /** The value of `key`: your own latest write, else the store's (read-through), else undefined. */
  get(key: string): Promise<V | undefined> {
    try {
      this.assertOpen('get')
      checkKey(key, this.options.maxKeyBytes)
      const entry = this.memory.get(key)
      if (entry !== undefined) {
        this.counters.hits++
        return Promise.resolve(this.decode(entry.encoded))
      }
      this.counters.misses++
      return this.loadOne(key)
    } catch (error) {
      return rejected(error)
    }
  }

  /** Values of several keys, in order; one store round trip for all the misses. */
  async getMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    this.assertOpen('getMany')
    for (const key of keys) checkKey(key, this.options.maxKeyBytes)
    const missing = keys.filter((k) => this.memory.get(k) === undefined)
    this.counters.hits += keys.length - missing.length
    this.counters.misses += missing.length
    const loaded = await Promise.all(missing.length > 0 ? this.reader.loadMany(missing) : [])
    const values = new Map<string, V | undefined>()
    for (const [i, key] of missing.entries()) {
      const fresh = this.memory.peek(key) !== undefined || !this.reader.takeStale(key)
      values.set(key, fresh ? this.remember(key, loaded[i]) : await this.loadOne(key))
    }
    return keys.map((key) => {
      const entry = this.memory.peek(key)
      return entry !== undefined ? this.decode(entry.encoded) : values.get(key)
    })
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
    const mark = await withDeadline(this.parts.drain(), timeoutMs, signal, this.options.clock, () => this.parts.backlogEntries())
    return {
      deadLettered: this.parts.dlq.list({ maxVersion: mark }),
      superseded: this.parts.recentSuperseded.filter((w) => w.version <= mark),
    }
  }

  /** Counters and gauges: backlog, lag (oldest dirty age), coalescing, flushes, failures. */
  stats(): CacheStats {
    return buildStats(this.parts)
  }

  /** Dead letters (writes that could not be flushed), oldest first. */
  deadLetters(filter?: DeadLetterSelector): DeadLetter[] {
    return this.parts.dlq.list(filter)
  }

  /** Sends dead letters to the store again, with their original versions (a newer write wins). */
  replayDeadLetters(filter?: DeadLetterSelector): Promise<ReplayReport> {
    this.assertOpen('replayDeadLetters')
    return this.deadLetterHooks.replay(filter)
  }

  /** Discards dead letters for good; returns how many. */
  dropDeadLetters(filter?: DeadLetterSelector): Promise<number> {
    return this.deadLetterHooks.drop(filter)
  }

  /**
   * Stops taking writes, drains the backlog for up to `closeTimeoutMs`, then releases the log and
   * the store. Resolves with what could not be flushed (still in the log, where there is one).
   * Safe to call twice: the second call gets the first call's promise.
   */
  close(): Promise<CloseReport> {
    this.closing ??= closeCache(this.parts)
    return this.closing
  }

  /** What `open()` replayed from the dirty log; undefined without a dir. */
  get recovery(): RecoveryReport | undefined {
    return this.parts.recovery
  }

  get closed(): boolean {
    return this.closing !== undefined
  }

  /** The durability a write's options ask for, checked like the cache's own options. */
  private durabilityOf(options: WriteOptions | undefined): Durability {
    if (options === undefined) return this.options.durability
    checkWriteOptionNames(options)
    const durability = oneOf(options.durability, 'durability', DURABILITIES)
    if (durability === undefined) return this.options.durability
    if (this.parts.log === undefined && (durability === 'log' || durability === 'disk')) {
      throw new TypeError(`durability '${durability}' needs a dir for the dirty log, and this cache has none; open it with a dir, or write with 'memory' or 'store'`)
    }
    return durability
  }

  private write(key: string, encoded: string | null, durability: Durability): Promise<void> {
    if (durability === 'store' && !this.parts.flusher.available) {
      return Promise.reject(new StoreUnavailableError('the flush circuit is open after repeated failures'))
    }
    if (this.admission.canApplyNow()) return this.apply(key, encoded, durability)
    return this.whenFull(key, encoded, durability)
  }

  private whenFull(key: string, encoded: string | null, durability: Durability): Promise<void> {
    this.parts.noteBacklogFull()
    switch (this.options.backlog.whenFull) {
      case 'reject':
        return Promise.reject(new BacklogFullError(this.parts.backlogEntries(), this.parts.backlogBytes()))
      case 'store':
        if (!this.parts.flusher.available) return Promise.reject(new StoreUnavailableError('the backlog is full and the store is failing'))
        return this.apply(key, encoded, 'store')
      case 'wait': {
        const bytes = key.length + (encoded === null ? 0 : encoded.length)
        if (!this.admission.hasRoomFor(bytes)) {
          return Promise.reject(new BacklogFullError(this.parts.backlogEntries(), this.parts.backlogBytes(), this.admission.waiting))
        }
        const admitted = this.admission.enqueue(() => (this.closing === undefined ? this.apply(key, encoded, durability) : Promise.reject(new CacheClosedError('write'))), bytes)
        this.admission.release()
        this.scheduler.pump()
        return admitted
      }
    }
  }

  private apply(key: string, encoded: string | null, durability: Durability): Promise<void> {
    const version = this.versions.next()
    const log = this.parts.log
    // The log first: if it has failed (a full disk), it throws and nothing of the write is applied.
    // A write that waits for its log record is revocable: if the record's write(2) fails, the
    // write is rejected and rolled back (revoke.ts), so it keeps what it replaces until then.
    let loggedUpTo = -1
    if (log !== undefined) {
      log.append({ kind: encoded === null ? 'delete' : 'set', key, version, encoded })
      if (durability === 'log' || durability === 'disk') loggedUpTo = log.writtenVersion
    }
    this.reader.noteWrite(key)
    const entry = this.memory.write(key, encoded, version, loggedUpTo)
    this.backlog.record(entry, this.memory.lastSizeDelta, loggedUpTo >= 0 && loggedUpTo < version)
    const counters = this.counters
    counters.writes++
    if (this.backlog.size > counters.highWaterEntries) counters.highWaterEntries = this.backlog.size
    if (durability === 'store') return this.waitForStore(entry, version)
    this.scheduler.afterWrite()
    if (durability === 'memory' || log === undefined) return RESOLVED
    return durability === 'log' ? log.written() : log.synced()
  }

  private waitForStore(entry: Entry, version: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      ;(entry.waiters ??= []).push({ version, resolve, reject })
      this.scheduler.urgent.add(entry.key)
      this.scheduler.afterWrite()
    })
  }

  private async loadOne(key: string): Promise<V | undefined> {
    for (;;) {
      const [loading] = this.reader.loadMany([key])
      const loaded = await (loading as Promise<LoadedEntry | undefined>)
      const current = this.memory.peek(key)
      if (current !== undefined) return this.decode(current.encoded)
      // Written (and already flushed and dropped, e.g. a delete) while the load was out: load again.
      if (!this.reader.takeStale(key)) return this.remember(key, loaded)
    }
  }

  /** Caches a loaded entry unless a write got there first; returns the key's current value. */
  private remember(key: string, loaded: LoadedEntry | undefined): V | undefined {
    const current = this.memory.peek(key)
    if (current !== undefined) return this.decode(current.encoded)
    if (loaded === undefined) return undefined
    this.versions.observe(loaded.version)
    const encoded = loaded.encoded ?? this.options.codec.encode(loaded.value)
    return this.decode(this.memory.addLoaded(key, encoded, loaded.version).encoded)
  }

  private decode(encoded: string | null): V | undefined {
    return encoded === null ? undefined : (this.options.codec.decode(encoded) as V)
  }

  private assertOpen(operation: string): void {
    if (this.closing !== undefined) throw new CacheClosedError(operation)
  }
}

function checkFlushOptions(options: FlushCallOptions): FlushCallOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('flush(options) takes an object: { timeoutMs?, signal? }')
  const { timeoutMs, signal } = options
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)) {
    throw new TypeError(`flush timeoutMs must be a number >= 0, got ${String(timeoutMs)}`)
  }
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw new TypeError('flush signal must be an AbortSignal')
  }
  return { timeoutMs, signal }
}

/** `work`, unless the timeout or the signal comes first (then a FlushTimeoutError; `work` goes on). */
function withDeadline<T>(work: Promise<T>, timeoutMs: number | undefined, signal: AbortSignal | undefined, clock: Clock, unflushed: () => number): Promise<T> {
  if (timeoutMs === undefined && signal === undefined) return work
  if (signal?.aborted === true) {
    work.catch(() => {})
    return Promise.reject(new FlushTimeoutError('abort', unflushed(), { cause: signal.reason }))
  }
  return new Promise<T>((resolve, reject) => {
    const timer = timeoutMs === undefined ? undefined : clock.setTimeout(() => finish(() => reject(new FlushTimeoutError('timeout', unflushed()))), timeoutMs)
    const onAbort = (): void => finish(() => reject(new FlushTimeoutError('abort', unflushed(), { cause: signal?.reason })))
    signal?.addEventListener('abort', onAbort, { once: true })
    let done = false
    function finish(settle: () => void): void {
      if (done) return
      done = true
      if (timer !== undefined) clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      settle()
    }
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(error instanceof Error ? error : new Error(String(error)))),
    )
  })
}

function rejected(error: unknown): Promise<never> {
  return Promise.reject(error instanceof Error ? error : new Error(String(error)))
}
