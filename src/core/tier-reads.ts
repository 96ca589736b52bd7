/**
 * The embedded cache's read path: a hit is served from the memory tier; a miss reads through the
 * store (read-through.ts: concurrent misses share one load) and caches what it loaded unless a
 * write got there first. A key written while its load was out is loaded again (the loaded value
 * may predate the write, e.g. a delete already flushed and dropped). Owns the hit and miss
 * counts. The facade validates keys before calling it.
 */
import type { Codec } from '../contracts/codec.js'
import type { LoadedEntry } from '../contracts/store.js'
import type { EmbeddedTier } from '../tier/embedded/embedded-tier.js'
import type { Load, ReadThrough } from './read-through.js'

export class TierReads<V> {
  /** Reads served from memory, and reads that went to the store; read by `stats()`. */
  readonly counts = { hits: 0, misses: 0 }

  constructor(
    private readonly tier: EmbeddedTier,
    private readonly reader: ReadThrough,
    private readonly codec: Codec,
  ) {}

  /** The value of `key`: the cached one, else the store's (read through), else undefined. */
  get(key: string): Promise<V | undefined> {
    const entry = this.tier.lookup(key)
    if (entry !== undefined) {
      this.counts.hits++
      return Promise.resolve(this.decode(entry.encoded))
    }
    this.counts.misses++
    return this.loadOne(key)
  }

  /** Values of several keys, in order; one store round trip for all the misses. */
  async getMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    const missing = keys.filter((k) => this.tier.lookup(k) === undefined)
    this.counts.hits += keys.length - missing.length
    this.counts.misses += missing.length
    const loads = missing.length > 0 ? this.reader.loadMany(missing) : []
    const loaded = await Promise.all(loads.map((load) => load.entry))
    const values = new Map<string, V | undefined>()
    for (const [i, key] of missing.entries()) {
      const fresh = this.tier.peek(key) !== undefined || !(loads[i] as Load).stale
      values.set(key, fresh ? this.remember(key, loaded[i]) : await this.loadOne(key))
    }
    return keys.map((key) => {
      const entry = this.tier.peek(key)
      return entry !== undefined ? this.decode(entry.encoded) : values.get(key)
    })
  }

  /** Caches a loaded entry unless a write got there first; returns the key's current value. */
  remember(key: string, loaded: LoadedEntry | undefined): V | undefined {
    const current = this.tier.peek(key)
    if (current !== undefined) return this.decode(current.encoded)
    if (loaded === undefined) return undefined
    const encoded = loaded.encoded ?? this.codec.encode(loaded.value)
    return this.decode(this.tier.addLoaded(key, encoded, loaded.version).encoded)
  }

  decode(encoded: string | null): V | undefined {
    return encoded === null ? undefined : (this.codec.decode(encoded) as V)
  }

  private async loadOne(key: string): Promise<V | undefined> {
    for (;;) {
      const load = this.reader.loadMany([key])[0] as Load
      const loaded = await load.entry
      const current = this.tier.peek(key)
      if (current !== undefined) return this.decode(current.encoded)
      if (!load.stale) return this.remember(key, loaded)
    }
  }
}
