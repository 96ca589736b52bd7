import { EntryList, type Linked } from './entry-list.js'

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
  /** Writes at durability `store` waiting for this key's flush. */
  waiters: Waiter[] | undefined = undefined

  constructor(
    readonly key: string,
    public encoded: string | null,
    public version: number,
  ) {}

  get size(): number {
    return this.key.length + (this.encoded === null ? 0 : this.encoded.length)
  }
}

export interface Waiter {
  readonly version: number
  resolve(): void
  reject(error: Error): void
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

  /** Records a write: creates or updates the entry and takes it out of the evictable set. */
  write(key: string, encoded: string | null, version: number): Entry {
    let entry = this.entries.get(key)
    if (entry === undefined) {
      entry = new Entry(key, encoded, version)
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
