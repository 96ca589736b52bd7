/**
 * Read-through on a cache miss, single-flight: concurrent misses on one key share one
 * `store.load`, and a `getMany` asks the store once for all of its missing keys. A background
 * reload of an expired entry (stale-while-revalidate) shares the same loads.
 */
import type { LoadedEntry, Store } from '../contracts/store.js'

/** One key's load from the store, shared by every miss on the key while it is out. */
export interface Load {
  /** The store's entry (undefined when absent). */
  readonly entry: Promise<LoadedEntry | undefined>
  /**
   * True once the key was written while this load was out: the loaded value may predate the
   * write, and must not be cached or served. Every miss sharing the load sees it.
   */
  stale: boolean
}

export class ReadThrough {
  private readonly loading = new Map<string, Load>()
  /** Keys with a background reload out. */
  private readonly revalidating = new Set<string>()
  loads = 0

  constructor(private readonly store: Store) {}

  /** A load of each key, starting only those of keys not already loading. */
  loadMany(keys: readonly string[]): Load[] {
    const missing = keys.filter((k) => !this.loading.has(k))
    if (missing.length > 0) this.startLoad([...new Set(missing)])
    return keys.map((k) => this.loading.get(k) as Load)
  }

  /**
   * Reloads `key` in the background, sharing a load already out for it; at most one reload per key
   * at once. `done` gets the store's entry. A failed load (or a `done` that throws) ends the reload
   * quietly: the caller keeps serving what it has, and a later read may try again. The caller
   * checks that its entry was not written during the load.
   */
  revalidate(key: string, done: (loaded: LoadedEntry | undefined) => void): void {
    if (this.revalidating.has(key)) return
    this.revalidating.add(key)
    let loading: Promise<LoadedEntry | undefined>
    try {
      loading = (this.loadMany([key])[0] as Load).entry
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

  /** Called on every write: a load of this key that is still out is stale. */
  noteWrite(key: string): void {
    if (this.loading.size === 0) return
    const load = this.loading.get(key)
    if (load !== undefined) load.stale = true
  }

  private startLoad(keys: string[]): void {
    this.loads++
    const batch = this.store.load(keys)
    for (const key of keys) {
      const one: Load = { entry: batch.then((found) => found.get(key)), stale: false }
      this.loading.set(key, one)
      const forget = (): void => {
        if (this.loading.get(key) === one) this.loading.delete(key)
      }
      one.entry.then(forget, forget)
    }
  }
}
