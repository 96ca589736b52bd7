import { Entry, Undo } from './entry.js'
import { EntryList } from './entry-list.js'
import { EXPIRED, Expiry, FRESH, type ExpiryOptions } from './expiry.js'

export { Entry, Undo } from './entry.js'

/**
 * The memory tier: the latest value of every cached key, dirty or clean. It bounds memory by
 * evicting CLEAN entries only, least recently used first; a dirty, in-flight or dead-lettered
 * entry is never evicted, so an unflushed write can never fall out of the cache. (The backlog cap,
 * not this bound, limits how many dirty entries there can be.)
 *
 * Sizes are counted as the string lengths of key and encoded value: UTF-16 code units, which equal
 * UTF-8 bytes for ASCII text.
 *
 * Expiry (`ttlMs`, expiry.ts) applies to the same clean entries and to no other: an entry's ttl
 * starts when it turns clean (its write reached the store) or is loaded from the store, so a dirty,
 * in-flight or pinned entry never expires. An expired entry is dropped when `get` finds it (within
 * the stale window it is served, and `onStale` reloads it), and a few of the coldest are checked
 * each time an entry turns clean; there is no timer per entry.
 */

export interface MemoryBounds {
  maxEntries: number
  maxBytes: number
}

/** How clean entries expire: the cache's ttl, the stale window, the clock, and who reloads. */
export interface MemoryExpiry extends ExpiryOptions {
  /** `get` served `entry` within its stale window: reload it. */
  readonly onStale: (entry: Entry) => void
}

const NO_EXPIRY: MemoryExpiry = { ttlMs: 0, staleMs: 0, clock: { now: () => Date.now() }, onStale: () => {} }

/** At most how many expired entries are dropped from the cold end each time an entry turns clean. */
const SWEEP = 4

export class MemoryTier {
  private readonly entries = new Map<string, Entry>()
  /** Clean, evictable entries in least-recently-used order (head = coldest). */
  private readonly clean = new EntryList<Entry>()
  private totalBytes = 0
  evictions = 0
  /** Expired entries dropped so far. */
  expired = 0
  private readonly expiry: Expiry<Entry>
  private readonly onStale: (entry: Entry) => void
  /** How much the last `write` changed the written entry's size (the backlog's byte count needs it). */
  lastSizeDelta = 0
  /** Entries whose `undo` was captured since the last release, and the highest version captured. */
  private readonly captured: Array<Entry | undefined> = []
  private capturedCount = 0
  private capturedUpTo = 0

  constructor(
    private readonly bounds: MemoryBounds,
    expiry: MemoryExpiry = NO_EXPIRY,
  ) {
    this.expiry = new Expiry(expiry)
    this.onStale = expiry.onStale
  }

  get size(): number {
    return this.entries.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  /**
   * The entry for `key`, marking it recently used; undefined when it expired (it is dropped). Within
   * the stale window an expired entry is returned, and `onStale` is told.
   */
  get(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.list === this.clean) {
      if (this.expiry.active && this.expiredNow(entry)) return undefined
      this.clean.remove(entry)
      this.clean.push(entry)
    }
    return entry
  }

  /** Whether `entry` is clean and expired past its stale window: what `get` would drop. */
  isExpired(entry: Entry): boolean {
    return entry.list === this.clean && this.expiry.active && this.expiry.state(entry, this.expiry.now()) === EXPIRED
  }

  /** The entry without touching recency or expiry. */
  peek(key: string): Entry | undefined {
    return this.entries.get(key)
  }

  /**
   * Records a write: creates or updates the entry and takes it out of the evictable set. With
   * `loggedUpTo` (the highest version whose log record reached the OS), the write is revocable: the
   * entry's state before it is kept in `entry.undo` unless an unlogged revocable write already did.
   * `ttlMs` is the write's (undefined: the cache's); it starts once the entry is clean.
   */
  write(key: string, encoded: string | null, version: number, loggedUpTo = -1, ttlMs?: number): Entry {
    // The rarer paths are methods of their own, so that this one stays small enough for V8 to
    // inline into the write path.
    const entry = this.entries.get(key)
    if (loggedUpTo >= 0) this.captureBefore(entry, version, loggedUpTo)
    if (entry === undefined) return this.insert(key, encoded, version, loggedUpTo, ttlMs)
    entry.overwritten(loggedUpTo < 0)
    this.lastSizeDelta = entry.rewrite(encoded, version)
    this.expiry.written(entry, ttlMs)
    this.totalBytes += this.lastSizeDelta
    if (entry.list === this.clean) this.clean.remove(entry)
    return entry
  }

  /** A revocable write of `entry` (undefined: a new key) at `version`: keeps what it replaces (see `write`). */
  private captureBefore(entry: Entry | undefined, version: number, loggedUpTo: number): void {
    // Every capture so far is for a write whose record reached the OS: let go of the old values.
    if (this.capturedCount > 0 && this.capturedUpTo <= loggedUpTo) this.releaseUndo()
    if (entry !== undefined && captureUndo(entry, version, loggedUpTo, this.expiry)) this.noteCaptured(entry, version)
  }

  /** `write` of a key not cached. */
  private insert(key: string, encoded: string | null, version: number, loggedUpTo: number, ttlMs: number | undefined): Entry {
    const entry = new Entry(key, encoded, version)
    if (loggedUpTo >= 0) {
      ;(entry.undo = new Undo()).above = version
      this.noteCaptured(entry, version)
    }
    this.entries.set(key, entry)
    this.expiry.written(entry, ttlMs)
    this.lastSizeDelta = entry.size
    this.totalBytes += entry.size
    if (this.entries.size > this.bounds.maxEntries || this.totalBytes > this.bounds.maxBytes) this.evictIfNeeded()
    return entry
  }

  /**
   * Puts `entry` back to the state `undo` holds (its revocable writes were rejected); returns how
   * much that changed its size. A key that was not cached leaves the tier.
   */
  revert(entry: Entry, undo: Undo): void {
    if (undo.encoded === undefined) {
      this.remove(entry)
    } else {
      this.totalBytes += entry.rewrite(undo.encoded, undo.version)
      entry.pinned = undo.pinned
      entry.merge = undo.merge
      entry.operand = undo.operand
      entry.sealed = undo.sealed
      this.expiry.written(entry, undo.ttlMs)
    }
  }

  /**
   * Every cached entry whose undo holds a revocable write above `version` (its log record did not
   * reach the OS), each once. Call `releaseUndo()` once they are reverted.
   */
  revocable(version: number): Array<[Entry, Undo]> {
    const found = new Map<Entry, Undo>()
    for (let i = 0; i < this.capturedCount; i++) {
      const entry = this.captured[i] as Entry
      const undo = entry.undo
      if (undo !== undefined && undo.above > version && this.entries.get(entry.key) === entry) found.set(entry, undo)
    }
    return [...found]
  }

  /** Forgets every capture (their writes are acknowledged or rolled back). */
  releaseUndo(): void {
    // The slots are reused (no allocation per write), and emptied so evicted entries can go.
    for (let i = 0; i < this.capturedCount; i++) {
      ;(this.captured[i] as Entry).undo?.clear()
      this.captured[i] = undefined
    }
    this.capturedCount = 0
  }

  private noteCaptured(entry: Entry, version: number): void {
    this.captured[this.capturedCount++] = entry
    this.capturedUpTo = version
  }

  /** Adds a clean entry read from the store (with the cache's ttl), unless the key is cached already. */
  addLoaded(key: string, encoded: string, version: number): Entry {
    const existing = this.entries.get(key)
    if (existing !== undefined) return existing
    const entry = new Entry(key, encoded, version)
    this.entries.set(key, entry)
    this.totalBytes += entry.size
    this.markClean(entry)
    return entry
  }

  /**
   * Called when an entry holds no unflushed write any more: a flushed tombstone leaves the cache,
   * a flushed value becomes evictable, and its ttl starts.
   */
  markClean(entry: Entry): void {
    if (entry.pinned || entry.dirtySince !== 0) return
    if (entry.encoded === null) {
      this.remove(entry)
      return
    }
    if (entry.list === this.clean) this.clean.remove(entry)
    this.clean.push(entry)
    this.expiry.cleaned(entry)
    if (this.expiry.active) this.sweep()
    if (this.entries.size > this.bounds.maxEntries || this.totalBytes > this.bounds.maxBytes) this.evictIfNeeded()
  }

  /**
   * A reload (stale-while-revalidate) brought the store's value for a clean entry: serve it, with
   * the cache's ttl afresh. False, changing nothing, when the entry is no longer clean (written since).
   */
  refresh(entry: Entry, encoded: string, version: number): boolean {
    if (entry.list !== this.clean || this.entries.get(entry.key) !== entry) return false
    this.totalBytes += entry.rewrite(encoded, version)
    this.markClean(entry)
    return true
  }

  /**
   * Drops a clean `entry` past its expiry, its stale window included (a merge must not build on a
   * value that old); true when dropped.
   */
  dropExpired(entry: Entry): boolean {
    if (entry.list !== this.clean || !this.expiry.active || this.expiry.state(entry, this.expiry.now()) === FRESH) return false
    this.remove(entry)
    this.expired++
    return true
  }

  /** Drops a clean entry whose reload found no row in the store; false when it is not clean. */
  dropClean(entry: Entry): boolean {
    if (entry.list !== this.clean) return false
    this.remove(entry)
    return true
  }

  /**
   * Stops serving a clean entry whose value the store does not hold (superseded there, or a
   * dropped dead letter): the next read goes to the store. A dirty entry stays.
   */
  invalidate(entry: Entry): void {
    if (entry.dirtySince !== 0) return
    entry.pinned = false
    this.remove(entry)
  }

  /** Keeps the entry (a dead letter's value) out of eviction until it is written or replayed. */
  pin(entry: Entry): void {
    entry.pinned = true
    if (entry.list === this.clean) this.clean.remove(entry)
  }

  private remove(entry: Entry): void {
    if (this.entries.get(entry.key) !== entry) return
    this.entries.delete(entry.key)
    if (entry.list === this.clean) this.clean.remove(entry)
    this.totalBytes -= entry.size
    this.expiry.forget(entry)
  }

  /** Drops a clean `entry` past its stale window (true); within it, tells `onStale`. */
  private expiredNow(entry: Entry): boolean {
    const state = this.expiry.state(entry, this.expiry.now())
    if (state === FRESH) return false
    if (state !== EXPIRED) {
      this.onStale(entry)
      return false
    }
    this.remove(entry)
    this.expired++
    return true
  }

  /**
   * Drops the coldest clean entries while they are expired, up to a few. Cheap and partial on
   * purpose (usually one check): an expired entry behind a fresh one is dropped when read, evicted
   * by the bound, or reached here once the entries before it are gone.
   */
  private sweep(): void {
    const now = this.expiry.now()
    for (let i = 0; i < SWEEP; i++) {
      const coldest = this.clean.head
      if (coldest === undefined || this.expiry.state(coldest, now) !== EXPIRED) return
      this.remove(coldest)
      this.expired++
    }
  }

  private evictIfNeeded(): void {
    const { maxEntries, maxBytes } = this.bounds
    while ((this.entries.size > maxEntries || this.totalBytes > maxBytes) && this.clean.head !== undefined) {
      this.remove(this.clean.head)
      this.evictions++
    }
  }
}

/** Keeps `entry`'s state before the revocable write `version`; false if an earlier unlogged one did. */
function captureUndo(entry: Entry, version: number, loggedUpTo: number, expiry: Expiry<Entry>): boolean {
  const undo = (entry.undo ??= new Undo())
  if (undo.above > loggedUpTo) return false // an unlogged revocable write already captured the state to go back to
  undo.above = version
  undo.encoded = entry.encoded
  undo.version = entry.version
  undo.dirtySince = entry.dirtySince
  undo.dirtyVersion = entry.dirtyVersion
  undo.pinned = entry.pinned
  undo.merge = entry.merge
  undo.operand = entry.operand
  undo.sealed = entry.sealed
  undo.ttlMs = expiry.ttlOf(entry)
  return true
}
