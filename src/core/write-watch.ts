/**
 * Watches keys for writes: a read-modify-write (`update`, `getOrSet`) starts a watch before it
 * reads, and asks before it writes whether any write of the key was applied since. Every write
 * the facade applies reports here (`noteWrite`); a key is tracked only while watched, so an
 * unwatched write costs one map lookup, and a watch that stops leaves nothing behind.
 */

interface Watched {
  /** Writes of the key applied while it was watched. */
  writes: number
  /** Watches open on the key. */
  watchers: number
}

/** One open watch; pass it back to `moved` and `stop`. */
export interface Watch {
  readonly key: string
  readonly state: Watched
  readonly seen: number
}

export class WriteWatch {
  private readonly watched = new Map<string, Watched>()

  /** Keys watched now. */
  get size(): number {
    return this.watched.size
  }

  /** Starts watching `key`. Call `stop` when done (in a `finally`). */
  start(key: string): Watch {
    let state = this.watched.get(key)
    if (state === undefined) this.watched.set(key, (state = { writes: 0, watchers: 0 }))
    state.watchers++
    return { key, state, seen: state.writes }
  }

  /** Called on every write the cache applies. */
  noteWrite(key: string): void {
    if (this.watched.size === 0) return
    const state = this.watched.get(key)
    if (state !== undefined) state.writes++
  }

  /** Whether a write of the key was applied since `watch` started. */
  moved(watch: Watch): boolean {
    return watch.state.writes !== watch.seen
  }

  stop(watch: Watch): void {
    if (--watch.state.watchers === 0 && this.watched.get(watch.key) === watch.state) this.watched.delete(watch.key)
  }
}
