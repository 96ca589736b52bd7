/**
 * Writes at durability `store` waiting for their key's flush. The only owner of those waiters: a
 * write-through registers here with its version, and the pipeline's outcomes settle every waiter
 * of the key at or below the flushed version (resolve when applied; reject when superseded or
 * dead-lettered). The keys with waiters are `urgent`: the scheduler takes them first.
 */

interface Waiter {
  readonly version: number
  /** A delete: the store holds it when it has no row. */
  readonly tombstone: boolean
  resolve(): void
  reject(error: Error): void
}

export class WriteThroughs {
  private readonly waiters = new Map<string, Waiter[]>()

  /** Keys with a write-through waiting (read by the scheduler; changed only here). */
  get urgent(): ReadonlyMap<string, unknown> {
    return this.waiters
  }

  /** Resolves when `key`'s flush settles `version`; rejects if it is superseded or dead-lettered. */
  wait(key: string, version: number, tombstone = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.waiters.get(key)
      if (list === undefined) this.waiters.set(key, [{ version, tombstone, resolve, reject }])
      else list.push({ version, tombstone, resolve, reject })
    })
  }

  /** Whether `key` has a waiter above `version`. */
  waitsAbove(key: string, version: number): boolean {
    return this.waiters.get(key)?.some((w) => w.version > version) ?? false
  }

  /**
   * The tier holds `key` at `held` (0: not at all) and will flush nothing above it; the store holds
   * it at `stored` (0: no row; tombstones count when the store can tell them). Waiters the store holds
   * resolve (with `absentDeleteHeld`, a store that cannot tell tombstones: a delete is held when the
   * store has no row); the other waiters above `held` reject with `error(waiterVersion)`: their
   * write is lost.
   */
  lost(key: string, held: number, stored: number, error: (waiterVersion: number) => Error, absentDeleteHeld = true): void {
    const list = this.waiters.get(key)
    if (list === undefined) return
    for (const w of this.settle(key, Number.MAX_SAFE_INTEGER)) {
      if (w.version <= stored || (absentDeleteHeld && w.tombstone && stored === 0)) w.resolve()
      else if (w.version > held) w.reject(error(w.version))
      else this.keep(key, w)
    }
  }

  /** `key` is in the store at `version`: its waiters at or below it resolve. */
  applied(key: string, version: number): void {
    if (this.waiters.size === 0) return
    for (const w of this.settle(key, version)) w.resolve()
  }

  /** `key`'s write at `version` did not reach the store: its waiters at or below it reject with `error(waiterVersion)`. */
  failed(key: string, version: number, error: (waiterVersion: number) => Error): void {
    if (this.waiters.size === 0) return
    for (const w of this.settle(key, version)) w.reject(error(w.version))
  }

  /** Rejects every waiter (the cache is closing: none of them is known to be in the store). */
  rejectAll(error: Error): void {
    const all = [...this.waiters.values()]
    this.waiters.clear()
    for (const list of all) for (const w of list) w.reject(error)
  }

  private keep(key: string, waiter: Waiter): void {
    const list = this.waiters.get(key)
    if (list === undefined) this.waiters.set(key, [waiter])
    else list.push(waiter)
  }

  /** Removes and returns `key`'s waiters at or below `version`. */
  private settle(key: string, version: number): Waiter[] {
    const list = this.waiters.get(key)
    if (list === undefined) return []
    const done = list.filter((w) => w.version <= version)
    if (done.length === list.length) this.waiters.delete(key)
    else if (done.length > 0)
      this.waiters.set(
        key,
        list.filter((w) => w.version > version),
      )
    return done
  }
}
