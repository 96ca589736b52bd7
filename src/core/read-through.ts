/**
 * Read-through on a cache miss, single-flight: concurrent misses on one key share one
 * `store.load`, and a `getMany` asks the store once for all of its missing keys. A background
 * reload of an expired entry (stale-while-revalidate) shares the same loads.
 */
import type { LoadedEntry, Store } from '../contracts/store.js'

export class ReadThrough {
  private readonly loading = new Map<string, Promise<LoadedEntry | undefined>>()
  /** Keys written while their load was out: the loaded value may predate the write. */
  private readonly stale = new Set<string>()
  /** Keys with a background reload out. */
  private readonly revalidating = new Set<string>()
  loads = 0

  constructor(private readonly store: Store) {}

  /** The store's entry for each key (undefined when absent), loading only keys not already loading. */
  loadMany(keys: readonly string[]): Array<Promise<LoadedEntry | undefined>> {
    const missing = keys.filter((k) => !this.loading.has(k))
    if (missing.length > 0) this.startLoad([...new Set(missing)])
    return keys.map((k) => this.loading.get(k) as Promise<LoadedEntry | undefined>)
  }

  /**
   * Reloads `key` in the background, sharing a load already out for it; at most one reload per key
   * at once. `done` gets the store's entry. A failed load (or a `done` that throws) ends the reload
   * quietly: the caller keeps serving what it has, and a later read may try again. The caller
   * checks that its entry was not written during the load (it does not take the `stale` flag,
   * which a miss sharing the load may need).
   */
  revalidate(key: string, done: (loaded: LoadedEntry | undefined) => void): void {
    if (this.revalidating.has(key)) return
    this.revalidating.add(key)
    let loading: Promise<LoadedEntry | undefined>
    try {
      loading = this.loadMany([key])[0] as Promise<LoadedEntry | undefined>
    } catch {
      this.revalidating.delete(key) // a store whose load throws at once: as a failed load
      return
    }
    loading
      .then(done)
      .catch(() => {})
      .finally(() => this.revalidating.delete(key))
      .catch(() => {})
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
