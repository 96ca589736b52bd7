/**
 * Read-through on a cache miss, single-flight: concurrent misses on one key share one
 * `store.load`, and a `getMany` asks the store once for all of its missing keys.
 */
import type { LoadedEntry, Store } from '../contracts/store.js'

export class ReadThrough {
  private readonly loading = new Map<string, Promise<LoadedEntry | undefined>>()
  /** Keys written while their load was out: the loaded value may predate the write. */
  private readonly stale = new Set<string>()
  loads = 0

  constructor(private readonly store: Store) {}

  /** The store's entry for each key (undefined when absent), loading only keys not already loading. */
  loadMany(keys: readonly string[]): Array<Promise<LoadedEntry | undefined>> {
    const missing = keys.filter((k) => !this.loading.has(k))
    if (missing.length > 0) this.startLoad([...new Set(missing)])
    return keys.map((k) => this.loading.get(k) as Promise<LoadedEntry | undefined>)
  }

  /** Called on every write: a load of this key that is still out must not be cached. */
  noteWrite(key: string): void {
    if (this.loading.size > 0 && this.loading.has(key)) this.stale.add(key)
  }

  /** True (once) when `key` was written while a load of it was out. */
  takeStale(key: string): boolean {
    return this.stale.delete(key)
  }

  private startLoad(keys: string[]): void {
    this.loads++
    const batch = this.store.load(keys)
    for (const key of keys) {
      const one = batch.then((found) => found.get(key))
      this.loading.set(key, one)
      const forget = (): void => {
        if (this.loading.get(key) === one) this.loading.delete(key)
      }
      one.then(forget, forget)
    }
  }
}
