import type { MergeKind } from '../../contracts/store.js'
import { EntryList, type Linked } from './entry-list.js'
import type { SealedGroup } from './merges.js'

/**
 * The memory tier: the latest value of every cached key, dirty or clean. It bounds memory by
 * evicting CLEAN entries only, least recently used first; a dirty, in-flight or dead-lettered
 * entry is never evicted, so an unflushed write can never fall out of the cache. (The backlog cap,
 * not this bound, limits how many dirty entries there can be.)
 *
 * Sizes are counted as the string lengths of key and encoded value: UTF-16 code units, which equal
 * UTF-8 bytes for ASCII text.
 */

/** One cached key. `encoded === null` is a deleted key whose tombstone is not yet flushed. */
export class Entry implements Linked<Entry> {
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  /** The dirty list (backlog) or the clean LRU list the entry is in, if any. */
  list: object | undefined = undefined
  /** Clock time of the first unflushed write; 0 when the entry is not in the dirty set. */
  dirtySince = 0
  /** Version of the first unflushed write (valid when `dirtySince !== 0`). */
  dirtyVersion = 0
  /** Set while the entry's value is held only by the dead-letter queue; keeps it from eviction. */
  pinned = false
  /** What to go back to if writes whose log records have not reached the OS are rejected (see `Undo`). */
  undo: Undo | undefined = undefined
  // Merges (increment, max, min; see backlog.ts and merges.ts):
  /** The kind of the merges pending since the key's last op was taken; undefined when the pending op carries the whole value. */
  merge: MergeKind | undefined = undefined
  /** Their combined operand (valid while `merge` is set). */
  operand = 0
  /** A merge group sealed before a crash, rebuilt by replay: handed out first, as it was. */
  sealed: SealedGroup | undefined = undefined

  constructor(
    readonly key: string,
    public encoded: string | null,
    public version: number,
  ) {}

  get size(): number {
    return this.key.length + (this.encoded === null ? 0 : this.encoded.length)
  }
}

/**
 * The state of an entry before its first revocable write (durability `log` or `disk`) whose log
 * record has not yet reached the OS. If that write(2) fails, those writes are rejected and the entry
 * goes back to this state (an acknowledged write of the key, even one in the same failed write,
 * survives: a write that is not revocable clears `above`). One object per entry, reused.
 */
export class Undo {
  /** The version of the first revocable write since the capture; 0 when nothing is captured. */
  above = 0
  /** The value before it; `undefined` when the key was not cached (the entry goes away). */
  encoded: string | null | undefined = undefined
  version = 0
  dirtySince = 0
  dirtyVersion = 0
  pinned = false
  merge: MergeKind | undefined = undefined
  operand = 0
  sealed: SealedGroup | undefined = undefined

  /** Nothing captured any more (the write is acknowledged, or rolled back); drops the old value. */
  clear(): void {
    this.above = 0
    this.encoded = undefined
    this.sealed = undefined
  }
}

export interface MemoryBounds {
  maxEntries: number
  maxBytes: number
}

export class MemoryTier {
  private readonly entries = new Map<string, Entry>()
  /** Clean, evictable entries in least-recently-used order (head = coldest). */
  private readonly clean = new EntryList<Entry>()
  private totalBytes = 0
  evictions = 0
  /** How much the last `write` changed the written entry's size (the backlog's byte count needs it). */
  lastSizeDelta = 0
  /** Entries whose `undo` was captured since the last release, and the highest version captured. */
  private readonly captured: Array<Entry | undefined> = []
  private capturedCount = 0
  private capturedUpTo = 0

  constructor(private readonly bounds: MemoryBounds) {}

  get size(): number {
    return this.entries.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  /** The entry for `key`, marking it recently used. */
  get(key: string): Entry | undefined {
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.list === this.clean) {
      this.clean.remove(entry)
      this.clean.push(entry)
    }
    return entry
  }

  /** The entry without touching recency. */
  peek(key: string): Entry | undefined {
    return this.entries.get(key)
  }

  /**
   * Records a write: creates or updates the entry and takes it out of the evictable set. With
   * `loggedUpTo` (the highest version whose log record reached the OS), the write is revocable: the
   * entry's state before it is kept in `entry.undo` unless an unlogged revocable write already did.
   */
  write(key: string, encoded: string | null, version: number, loggedUpTo = -1): Entry {
    let entry = this.entries.get(key)
    if (loggedUpTo >= 0) {
      // Every capture so far is for a write whose record reached the OS: let go of the old values.
      if (this.capturedCount > 0 && this.capturedUpTo <= loggedUpTo) this.releaseUndo()
      if (entry !== undefined && captureUndo(entry, version, loggedUpTo)) this.noteCaptured(entry, version)
    } else if (entry?.undo !== undefined) entry.undo.clear()
    if (entry === undefined) {
      entry = new Entry(key, encoded, version)
      if (loggedUpTo >= 0) {
        ;(entry.undo = new Undo()).above = version
        this.noteCaptured(entry, version)
      }
      this.entries.set(key, entry)
      this.lastSizeDelta = entry.size
      this.totalBytes += entry.size
      if (this.entries.size > this.bounds.maxEntries || this.totalBytes > this.bounds.maxBytes) this.evictIfNeeded()
      return entry
    }
    const before = entry.size
    entry.encoded = encoded
    entry.version = version
    entry.pinned = false
    this.lastSizeDelta = entry.size - before
    this.totalBytes += this.lastSizeDelta
    if (entry.list === this.clean) this.clean.remove(entry)
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
      const before = entry.size
      entry.encoded = undo.encoded
      entry.version = undo.version
      entry.pinned = undo.pinned
      entry.merge = undo.merge
      entry.operand = undo.operand
      entry.sealed = undo.sealed
      this.totalBytes += entry.size - before
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


  /** Adds a clean entry read from the store, unless the key is cached already. */
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
   * a flushed value becomes evictable.
   */
  markClean(entry: Entry): void {
    if (entry.pinned || entry.dirtySince !== 0) return
    if (entry.encoded === null) {
      this.remove(entry)
      return
    }
    if (entry.list === this.clean) this.clean.remove(entry)
    this.clean.push(entry)
    if (this.entries.size > this.bounds.maxEntries || this.totalBytes > this.bounds.maxBytes) this.evictIfNeeded()
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
function captureUndo(entry: Entry, version: number, loggedUpTo: number): boolean {
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
  return true
}
