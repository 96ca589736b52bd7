/**
 * The embedded tier: a cache's dirty state in this process. It owns the memory tier (every cached
 * key's latest value), the backlog (what is unflushed, in order), the version source and, with a
 * `dir`, the dirty log (what survives a crash) and its checkpoint.
 *
 *   write ─► version ─► log append (buffered) ─► memory tier ─► backlog
 *   take  ─► log buffer to the OS first ─► oldest dirty ops, none in flight
 *   applied / superseded / dead-lettered ─► clean, invalidate or pin the entry
 *   settled through a version ─► checkpoint (whole old segments deleted)
 *
 * The cache facade writes and reads through it; the flush pipeline sees it as a `DirtyTier`.
 *
 * A `log`/`disk` write is revocable until its record reached the OS: if that write(2) fails it is
 * rejected and rolled back (revoke.ts), and no batch is taken before the log buffer is written.
 *
 * Merges (`merge`: increment, max, min) follow merges.ts: the tier computes the new value from the
 * cached one, logs the merge, and the backlog combines it with the key's pending merge; `take` seals
 * every merge op it hands out in the log, holds back a key's merges while its earlier merge is
 * dead-lettered, and sends a merge pending over a dead-lettered set or delete as a set of the
 * whole value.
 *
 * Expiry (memory-tier.ts): each write carries its ttl, which starts once the entry is clean; loaded
 * values get the cache's. `lookup` drops an expired entry; within the stale window it serves it
 * and asks `onStale` to reload it, and `refreshed` applies what the reload found. A merge never
 * builds on an expired value: it reads the key again first.
 */
import type { Clock } from '../../contracts/clock.js'
import type { Codec } from '../../contracts/codec.js'
import type { MergeKind } from '../../contracts/store.js'
import type { DirtyTier } from '../../flush/dirty-tier.js'
import type { PendingOp } from '../../flush/pending-op.js'
import type { DirtyLog } from '../../log/dirty-log.js'
import type { LogRecord, Recovered, Truncation } from '../../log/types.js'
import { CoalescingBacklog, OrderedBacklog, type Backlog } from './backlog.js'
import { Checkpointer } from './checkpointer.js'
import { CoarseClock } from './coarse-clock.js'
import { MemoryTier, type Entry, type MemoryBounds } from './memory-tier.js'
import { baseOf, handOut, heldBehindLetter, resultOf, type DeadLetterOf, type HandOutDeps } from './merges.js'
import { Replay } from './replay.js'
import { revokeUnlogged } from './revoke.js'
import { VersionSource } from './versions.js'

const RESOLVED: Promise<void> = Promise.resolve()

export interface EmbeddedTierOptions {
  clock: Clock
  codec: Codec
  /** One dirty entry per key (true), or every write as its own op (false). */
  coalesce: boolean
  /** `'global'`: batches are taken as ranges of versions, in version order (see `DirtyTier.take`). @default 'key' */
  order?: 'key' | 'global'
  memory: MemoryBounds
  /** Keys in a flight (owned by the flusher): a rolled-back write of one stays dirty until its flight ends. */
  inFlight: ReadonlySet<string>
  /** Where warnings go (`WB_LOG_FAILED`, `WB_CHECKPOINT_FAILED`). */
  warn: (code: string, message: string) => void
  /** The kind and version of `key`'s dead letter, if it has one (merges wait behind a merge letter). */
  deadLetterOf?: DeadLetterOf
  /** The cache's ttl for clean entries (ms; 0: never), for writes that give none and for loaded values. */
  ttlMs: number
  /** How long past its expiry an entry is still served while reloaded (ms; 0: not at all). */
  staleWhileRevalidateMs: number
  /** `lookup` served `key` within its stale window: reload it, then call `refreshed`. */
  onStale?: (key: string) => void
}

/** A merge the tier applied: its version and the key's new value. */
export interface MergeApplied {
  readonly version: number
  readonly value: number
}

/** What `recover()` found in the log. */
export interface TierRecovery {
  readonly records: number
  readonly keys: number
  readonly truncations: readonly Truncation[]
}

export class EmbeddedTier implements DirtyTier {
  private readonly memory: MemoryTier
  private readonly backlog: Backlog
  private readonly versions: VersionSource
  private readonly checkpointer: Checkpointer | undefined
  private settled = 0
  private recovered: Recovered | undefined
  /** Keys whose cached value the store will not hold once flushed (a dropped merge letter, a superseded op): read again once clean. */
  private readonly reload = new Set<string>()
  private readonly handOut: HandOutDeps

  /**
   * `log` and what it recovered come from `DirtyLog.open()` (none without a dir); `floor` is the
   * version floor (the log's high-water mark, or the store's when there is no log mark).
   */
  constructor(
    private readonly options: EmbeddedTierOptions,
    private readonly log: DirtyLog | undefined,
    recovered: Recovered | undefined,
    floor: number,
  ) {
    const coarse = new CoarseClock(options.clock)
    const onStale = options.onStale
    this.memory = new MemoryTier(options.memory, {
      ttlMs: options.ttlMs,
      staleMs: options.staleWhileRevalidateMs,
      clock: coarse,
      onStale: onStale === undefined ? () => {} : (entry) => onStale(entry.key),
    })
    // Key order holds a key's merges back behind its merge letter; global order sends them as the whole value past it (handOut).
    const held = options.order === 'global' ? undefined : heldBehindLetter(options.deadLetterOf)
    this.backlog = options.coalesce ? new CoalescingBacklog(options.codec, coarse, (key) => this.memory.peek(key), options.order, held) : new OrderedBacklog(options.codec, coarse, held)
    this.versions = new VersionSource(options.clock, floor)
    this.handOut = { log, versions: this.versions, codec: options.codec, deadLetterOf: options.deadLetterOf, globalOrder: options.order === 'global' }
    this.recovered = recovered
    if (log !== undefined) {
      this.checkpointer = new Checkpointer(
        log,
        options.clock,
        () => this.settled,
        () => this.versions.current,
        (error) => {
          options.warn('WB_CHECKPOINT_FAILED', `writing the checkpoint failed: ${String(error)}`)
        },
      )
    }
  }

  /** Whether writes can wait for the dirty log (durability `log` and `disk`). */
  get hasLog(): boolean {
    return this.log !== undefined
  }

  /**
   * The log failed: every write whose record did not reach the OS was rejected by the log; roll
   * them back. Wired to the log's `failed` event by whoever opened the log.
   */
  logFailed(writtenVersion: number): void {
    const keys = revokeUnlogged(this.memory, this.backlog, this.options.inFlight, writtenVersion)
    this.options.warn('WB_LOG_FAILED', `the dirty log failed; ${keys} key(s) with writes rejected for it were rolled back`)
  }

  /**
   * Re-dirties every record the log held above its checkpoint, in order (so the latest version of
   * a key wins). Once, after open; undefined without a log.
   */
  recover(): TierRecovery | undefined {
    const recovered = this.recovered
    if (recovered === undefined) return undefined
    this.recovered = undefined
    const replay = new Replay(this.memory, this.backlog)
    for (const record of recovered.records) {
      this.versions.observe(record.version)
      replay.apply(record)
    }
    replay.finish()
    return { records: recovered.records.length, keys: this.backlog.size, truncations: recovered.truncations }
  }

  // ---- the write side (the cache facade) ----

  /**
   * Applies a write (`encoded === null`: a delete) and returns its version. The log first: if it
   * has failed (a full disk) it throws and nothing of the write is applied. A `log`/`disk` write
   * keeps what it replaces until its record reached the OS (revocable).
   */
  write(key: string, encoded: string | null, durability: string, ttlMs = this.options.ttlMs): number {
    const version = this.versions.next()
    const loggedUpTo = this.log === undefined ? -1 : this.loggedWhole(key, encoded, version, durability)
    const entry = this.memory.write(key, encoded, version, loggedUpTo, ttlMs)
    // The whole value replaces pending merges, and is never held back behind a merge letter.
    entry.wholeValue()
    this.backlog.recordWhole(entry, this.memory.lastSizeDelta, loggedUpTo >= 0 && loggedUpTo < version)
    return version
  }

  /**
   * Applies a merge to the key's cached value (`absent`: the key is known to be in neither the
   * cache nor the store, so the merge starts from its operand) and returns its version and the new
   * value; undefined when the key is not cached (or its clean value expired) and not known absent
   * (read it first). `ttlMs` as for `write`. Throws
   * `NotANumberError` for a value that is not a number, and what `write` throws.
   */
  merge(key: string, merge: MergeKind, operand: number, durability: string, absent: boolean, ttlMs = this.options.ttlMs): MergeApplied | undefined {
    let current = this.memory.peek(key)
    // A clean value past its expiry (stale window included) is not a base to build on: read the key again.
    if (current !== undefined && this.memory.dropExpired(current)) current = undefined
    if (current === undefined && !absent) return undefined
    const { codec } = this.options
    const value = resultOf(key, merge, baseOf(key, current?.encoded, codec, merge), operand)
    const encoded = codec.encode(value)
    const version = this.versions.next()
    const loggedUpTo = this.logged({ kind: 'merge', key, version, merge, operand, encoded }, durability)
    const entry = this.memory.write(key, encoded, version, loggedUpTo, ttlMs)
    this.backlog.recordMerge(entry, this.memory.lastSizeDelta, merge, operand, loggedUpTo >= 0 && loggedUpTo < version)
    return { version, value }
  }

  /**
   * `keys`' merge letters left the dead-letter queue: their held merges may go. A `dropped` letter's
   * delta is in the cached value but will never be in the store: the key is read again once clean.
   */
  released(keys: readonly string[], dropped: boolean): void {
    for (const key of keys) {
      const entry = this.memory.peek(key)
      if (entry === undefined) continue
      this.backlog.unblock(entry)
      if (dropped && entry.dirtySince !== 0) this.reload.add(key)
    }
  }

  /** `logged` of a set or delete: its record is made here, out of `write`, which V8 inlines into every write. */
  private loggedWhole(key: string, encoded: string | null, version: number, durability: string): number {
    return this.logged({ kind: encoded === null ? 'delete' : 'set', key, version, encoded }, durability)
  }

  /**
   * Appends a write's record (a failed log throws before anything of the write is applied);
   * returns the highest version whose record reached the OS when the write is revocable
   * (`log`/`disk`), else -1.
   */
  private logged(record: LogRecord, durability: string): number {
    const log = this.log
    if (log === undefined) return -1
    log.append(record)
    return durability === 'log' || durability === 'disk' ? log.writtenVersion : -1
  }

  /** Resolves when the writes so far are as durable as `durability` asks (`log`: written; `disk`: fsynced). */
  whenDurable(durability: string): Promise<void> {
    const log = this.log
    if (log === undefined || durability === 'memory' || durability === 'store') return RESOLVED
    return durability === 'log' ? log.written() : log.synced()
  }

  /**
   * The key's cached entry, marked recently used; undefined when it is not cached or expired (an
   * expired entry is dropped, so the caller reads through). Within the stale window the expired
   * entry is returned and a reload is asked for (`onStale`).
   */
  lookup(key: string): Entry | undefined {
    return this.memory.get(key)
  }

  /** The key's cached entry, recency and expiry untouched (an expired entry is returned too: see `expired`). */
  peek(key: string): Entry | undefined {
    return this.memory.peek(key)
  }

  /** Whether `entry` is expired past its stale window (a `lookup` would drop it and read through). */
  expired(entry: Entry): boolean {
    return this.memory.isExpired(entry)
  }

  /** Caches a value read from the store with the cache's ttl, unless the key is cached already; returns the key's entry. */
  addLoaded(key: string, encoded: string, version: number): Entry {
    this.versions.observe(version)
    return this.memory.addLoaded(key, encoded, version)
  }

  /**
   * A reload asked for by `onStale` ended: `loaded` is the store's entry (undefined: no row), for
   * the entry cached at `version` when the reload began. Applied only if that entry is still there,
   * clean and at that version (a write since wins); it then gets the cache's ttl afresh.
   */
  refreshed(key: string, version: number, loaded: { encoded: string; version: number } | undefined): void {
    const entry = this.memory.peek(key)
    if (entry === undefined || entry.version !== version) return
    if (loaded === undefined) {
      this.memory.dropClean(entry)
      return
    }
    if (this.memory.refresh(entry, loaded.encoded, loaded.version)) this.versions.observe(loaded.version)
  }

  /** The cached version of `key`, if it is cached. */
  versionOf(key: string): number | undefined {
    return this.memory.peek(key)?.version
  }

  /** Serves a dead letter's value (recovered at open): cached and kept from eviction. */
  pin(key: string, encoded: string | null, version: number): void {
    this.versions.observe(version)
    this.memory.pin(this.memory.write(key, encoded, version))
  }

  /** Stops serving `key` at `version` if it is a pinned dead letter's value (dropped, or replayed). */
  unpin(key: string, version: number, onlyPinned: boolean): void {
    const entry = this.memory.peek(key)
    if (entry === undefined || entry.version !== version || (onlyPinned && !entry.pinned)) return
    this.memory.invalidate(entry)
  }

  /** Keys waiting to be flushed (a key may repeat without coalescing). */
  waitingKeys(): Iterable<string> {
    return this.backlog.keys()
  }

  memoryStats(): { entries: number; bytes: number; evictions: number; expired: number } {
    return { entries: this.memory.size, bytes: this.memory.bytes, evictions: this.memory.evictions, expired: this.memory.expired }
  }

  logStats(): { segments: number; bytes: number; writes: number; fsyncs: number } | undefined {
    if (this.log === undefined) return undefined
    const { segments, bytes, writes, fsyncs } = this.log.stats()
    return { segments, bytes, writes, fsyncs }
  }

  /** Writes a last checkpoint at `lowWater` and closes the log. */
  async close(lowWater: number): Promise<void> {
    if (this.log === undefined) return
    this.settledThrough(lowWater)
    await this.checkpointer?.final()
    await this.log.close()
  }

  // ---- DirtyTier: the flush pipeline's view ----

  get waiting(): number {
    return this.backlog.size
  }

  get waitingBytes(): number {
    return this.backlog.bytes
  }

  get highestVersion(): number {
    return this.versions.current
  }

  lowestWaiting(): number | undefined {
    return this.backlog.lowestVersion()
  }

  oldestWaiting(): number | undefined {
    return this.backlog.oldestSince()
  }

  /** Writes the log's buffer to the OS first, so no op reaches the store before its log record did. */
  take(max: number, busy: ReadonlySet<string>, first: ReadonlyMap<string, unknown> | undefined): PendingOp[] {
    this.log?.writePending()
    const ops = this.backlog.take(max, busy, first)
    let sealed = false
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as PendingOp
      if (op.kind !== 'merge') continue
      ops[i] = handOut(op, this.handOut)
      sealed = true
    }
    if (sealed) this.log?.writePending()
    return ops
  }

  applied(op: PendingOp): void {
    const entry = this.entryOf(op)
    if (entry === undefined || entry.version !== op.version) return
    entry.pinned = false
    if (this.reload.size > 0 && this.reload.delete(op.key)) this.memory.invalidate(entry)
    else this.memory.markClean(entry)
  }

  /** The value is not in the store: stop serving it (the next read goes there) unless written since. */
  superseded(op: PendingOp, storeVersion: number): void {
    this.versions.observe(storeVersion)
    const entry = this.entryOf(op)
    if (entry === undefined) return
    if (entry.version === op.version) this.memory.invalidate(entry)
    // Merges written since are deltas on a value the store does not hold: read the key again once they are in.
    else if (entry.merge !== undefined || op.kind === 'merge') this.reload.add(op.key)
  }

  deadLettered(op: PendingOp): void {
    const entry = this.memory.peek(op.key)
    if (entry !== undefined && entry.version === op.version && entry.dirtySince === 0) this.memory.pin(entry)
  }

  settledThrough(lowWater: number): void {
    // Merges held back behind a dead letter are left out of the low-water mark (flush() does not wait for them), not out of the log.
    const held = this.backlog.lowestHeld()
    if (held !== undefined && held <= lowWater) lowWater = held - 1
    if (lowWater > this.settled) this.settled = lowWater
    this.checkpointer?.request()
  }

  tick(): void {
    this.versions.catchUp()
  }

  private entryOf(op: PendingOp): Entry | undefined {
    return (op.entry as Entry | undefined) ?? this.memory.peek(op.key)
  }
}
