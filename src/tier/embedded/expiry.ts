/**
 * When clean entries expire (`ttlMs`), kept beside the entries rather than in them: a cache with no
 * ttl anywhere pays no memory per entry, and a compare or two per write, flush and hit. (Two more
 * fields on every entry cost about 8% of `set()` throughput on distinct keys, which allocate one.)
 *
 *   write  ─► `written`: a ttl other than the cache's is remembered until the entry is clean
 *   clean  ─► `cleaned`: the ttl starts (flushed, or loaded from the store)
 *   read   ─► `state`: fresh, stale (within `staleMs` past expiry: serve and reload), or expired
 *
 * The memory tier decides which entries are clean and calls `cleaned` only for those, so a dirty,
 * in-flight or pinned entry never expires; an entry written since it turned clean may keep its old
 * time here, which is only read while it is clean again (`cleaned` replaces it first).
 */

export interface ExpiryOptions {
  /** The cache's ttl (ms; 0: never), for writes that give none and for values loaded from the store. */
  readonly ttlMs: number
  /** How long past its expiry an entry is still served while it is reloaded (ms; 0: not at all). */
  readonly staleMs: number
  /** The time expiry reads (the tier's coarse clock). */
  readonly clock: { now(): number }
}

export const FRESH = 0
export const STALE = 1
export const EXPIRED = 2

export class Expiry<E extends object> {
  /** Ttls of writes that differ from the cache's, for entries not clean yet. */
  private readonly pending = new Map<E, number>()
  /** When each clean entry with a ttl expires. */
  private readonly times = new Map<E, number>()

  constructor(private readonly options: ExpiryOptions) {}

  /** Whether any entry has an expiry time: until one has, nothing needs checking. */
  get active(): boolean {
    return this.times.size !== 0
  }

  /** `entry` was written with `ttlMs`, which starts once it is clean. */
  written(entry: E, ttlMs: number): void {
    if (ttlMs !== this.options.ttlMs) this.pending.set(entry, ttlMs)
    else if (this.pending.size !== 0) this.pending.delete(entry)
  }

  /** The ttl `entry` will get when it turns clean. */
  ttlOf(entry: E): number {
    return this.pending.size === 0 ? this.options.ttlMs : (this.pending.get(entry) ?? this.options.ttlMs)
  }

  /** `entry` turned clean: its ttl starts now. */
  cleaned(entry: E): void {
    const ttl = this.ttlOf(entry)
    if (this.pending.size !== 0) this.pending.delete(entry)
    if (ttl !== 0) this.times.set(entry, this.options.clock.now() + ttl)
    else if (this.times.size !== 0) this.times.delete(entry)
  }

  /** FRESH, STALE (past its expiry, within the stale window) or EXPIRED, for a clean entry at `now`. */
  state(entry: E, now: number): typeof FRESH | typeof STALE | typeof EXPIRED {
    const at = this.times.get(entry)
    if (at === undefined || now < at) return FRESH
    return now < at + this.options.staleMs ? STALE : EXPIRED
  }

  now(): number {
    return this.options.clock.now()
  }

  /** `entry` left the cache. */
  forget(entry: E): void {
    if (this.pending.size !== 0) this.pending.delete(entry)
    if (this.times.size !== 0) this.times.delete(entry)
  }
}
