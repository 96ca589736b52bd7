/**
 * When clean entries expire (`ttlMs`). An entry carries one number, `expiresAt`, set when it turns
 * clean; the ttl of a write that asked for one other than the cache's waits here, beside the entry,
 * until then. So a cache with no ttl anywhere pays one field per entry and a compare or two per
 * write, flush and hit. (Keeping every write's ttl on its entry as well, a second field, cost a
 * few percent of `set()` on distinct keys, which allocate one; keeping the times in a `Map` beside
 * the entries cost a fifth of a `get()` hit and half of a flushed entry once a ttl was set.)
 *
 *   write  ─► `written`: a ttl other than the cache's is remembered until the entry is clean
 *   clean  ─► `cleaned`: the ttl starts (flushed, or loaded from the store)
 *   read   ─► `state`: fresh, stale (within `staleMs` past expiry: serve and reload), or expired
 *
 * Times are kept relative to when the tier started, so they stay small integers (V8 keeps those in
 * the field itself; an epoch time would make V8 box every entry's field, with or without a ttl,
 * process-wide) for the first 24 days of a cache's life, and work the same after.
 *
 * The memory tier decides which entries are clean and calls `cleaned` only for those, so a dirty,
 * in-flight or pinned entry never expires; `expiresAt` is only read while the entry is clean
 * (`cleaned` sets it each time it turns clean; while it is dirty the entry keeps its dirty lag
 * in the same field: entry.ts).
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

export class Expiry<E extends { expiresAt: number }> {
  /** Ttls of writes that differ from the cache's, for entries not clean yet. */
  private readonly pending = new Map<E, number>()
  /** Whether any entry ever got an expiry time. */
  private any = false
  /** Clock time at the start: `expiresAt` and `now()` count from it. */
  private readonly epoch: number

  constructor(private readonly options: ExpiryOptions) {
    this.epoch = options.clock.now()
  }

  /** Whether any entry ever got an expiry time: until one has, nothing needs checking. */
  get active(): boolean {
    return this.any
  }

  /** `entry` was written with `ttlMs` (undefined: the cache's), which starts once it is clean. */
  written(entry: E, ttlMs: number | undefined): void {
    if (ttlMs !== undefined && ttlMs !== this.options.ttlMs) this.pending.set(entry, ttlMs)
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
    if (ttl !== 0) {
      this.any = true
      const at = this.now() + ttl
      entry.expiresAt = at === 0 ? -1 : at // 0 means never (reachable only after the clock stepped back)
    } else entry.expiresAt = 0
  }

  /** FRESH, STALE (past its expiry, within the stale window) or EXPIRED, for a clean entry at `now()`. */
  state(entry: E, now: number): typeof FRESH | typeof STALE | typeof EXPIRED {
    const at = entry.expiresAt
    if (at === 0 || now < at) return FRESH
    return now < at + this.options.staleMs ? STALE : EXPIRED
  }

  /** The time, counted from the start (what `expiresAt` is in). */
  now(): number {
    return this.options.clock.now() - this.epoch
  }

  /** `entry` left the cache. */
  forget(entry: E): void {
    if (this.pending.size !== 0) this.pending.delete(entry)
  }
}
