/**
 * Read-modify-writes of one key, built on the cache's own read and write:
 *
 *   update(key, fn)   per-key turn ─► watch ─► read (read-through) ─► fn ─► moved? retry : write
 *   getOrSet(key, l)  single-flight ─► watch ─► read (read-through) ─► hit? done : loader ─► moved? done : write
 *
 * A watch (write-watch.ts) sees every write the cache applies to the key after it started, so a
 * `set` or `delete` that lands while `fn`, the loader or the read-through is awaited is never
 * overwritten by a value computed from what it replaced. Updates of one key also take turns
 * (key-chain.ts), so concurrent updates do not retry against each other: each reads the last.
 *
 * `close()` rejects with `CacheClosedError` every call that has not applied its write yet (its
 * function or loader may never settle; once the cache closes its write could not be applied
 * anyway). A call whose write was applied settles with that write's acknowledgement.
 */
import type { WriteOptions } from '../contracts/options.js'
import { CacheClosedError, UpdateConflictError } from '../errors.js'
import { KeyChain } from './key-chain.js'
import { SingleFlight } from './single-flight.js'
import type { Watch, WriteWatch } from './write-watch.js'

/** How many times `update` runs its function before it gives up with `UpdateConflictError`. */
export const UPDATE_MAX_ATTEMPTS = 10

/** What the read-modify-writes need of the cache: its own public read and write paths. */
export interface KeyAccess<V> {
  /** The key's value as `get` reads it: the cache, else read-through (undefined: absent or deleted). */
  read(key: string): Promise<V | undefined>
  /** The version of the key's cached entry, if cached (recency untouched). */
  versionOf(key: string): number | undefined
  /** The key's cached value, no read-through (undefined: not cached, or deleted). */
  cached(key: string): V | undefined
  /** Writes `value` as `set` does, or deletes the key when it is undefined; the promise is the acknowledgement. */
  write(key: string, value: V | undefined, options: WriteOptions | undefined): Promise<void>
}

/** An update's write, applied to the cache; `acknowledged` settles at its durability. */
interface Applied<T> {
  readonly value: T
  readonly acknowledged: Promise<void>
}

export class KeyedOps<V> {
  private readonly turns = new KeyChain()
  private readonly flights = new SingleFlight()
  /** Rejecters of the calls that have not applied their write yet. */
  private readonly unapplied = new Set<() => void>()

  constructor(
    private readonly access: KeyAccess<V>,
    private readonly watch: WriteWatch,
  ) {}

  /** Keys with an update or a getOrSet under way (both maps empty when idle). */
  get busyKeys(): number {
    return this.turns.size + this.flights.size
  }

  update(key: string, fn: (current: V | undefined) => V | undefined | Promise<V | undefined>, options: WriteOptions | undefined): Promise<V | undefined> {
    // The turn ends once the write is applied; the next update of the key reads it while this one's acknowledgement is awaited.
    const applied = this.untilApplied(
      'update',
      this.turns.run(key, () => this.updateTurn(key, fn, options)),
    )
    return applied.then(({ value, acknowledged }) => acknowledged.then(() => value))
  }

  getOrSet<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options: WriteOptions | undefined): Promise<V | R> {
    const applied = this.untilApplied(
      'getOrSet',
      this.flights.run(key, () => this.loadTurn(key, loader, options)),
    )
    return applied.then(({ value, acknowledged }) => acknowledged.then(() => value))
  }

  /** The cache is closing: every call that has not applied its write rejects with `CacheClosedError`. */
  abandon(): void {
    for (const reject of this.unapplied) reject()
    this.unapplied.clear()
  }

  /** `work`, or a `CacheClosedError` if the cache starts closing first. */
  private untilApplied<T>(operation: string, work: Promise<Applied<T>>): Promise<Applied<T>> {
    return new Promise<Applied<T>>((resolve, reject) => {
      const abandon = (): void => reject(new CacheClosedError(operation))
      this.unapplied.add(abandon)
      work
        .then((applied) => {
          applied.acknowledged.catch(ignore) // the caller's own handler sees it, unless the call was abandoned
          resolve(applied)
        }, reject)
        .finally(() => this.unapplied.delete(abandon))
    })
  }

  private async updateTurn(key: string, fn: (current: V | undefined) => V | undefined | Promise<V | undefined>, options: WriteOptions | undefined): Promise<Applied<V | undefined>> {
    for (let attempt = 1; ; attempt++) {
      const read = await this.watchedRead(key)
      try {
        if (!read.raced) {
          const value = await fn(read.current)
          if (!this.moved(read.watch, read.seen)) return await this.apply(key, value, options, read.watch)
        }
        if (attempt >= UPDATE_MAX_ATTEMPTS) throw new UpdateConflictError(key, attempt)
      } finally {
        this.watch.stop(read.watch)
      }
    }
  }

  /** Writes an update's value; resolves once it is applied (the key's next update reads it). */
  private async apply(key: string, value: V | undefined, options: WriteOptions | undefined, watch: Watch): Promise<Applied<V | undefined>> {
    const acknowledged = this.access.write(key, value, options)
    // Applied at once, the write moved the watch; otherwise it waits for room in the backlog (or
    // was refused), and the key's next update must not read around it.
    if (!this.watch.moved(watch)) await acknowledged.catch(ignore)
    return { value, acknowledged }
  }

  private async loadTurn<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options: WriteOptions | undefined): Promise<Applied<V | R>> {
    let read = await this.watchedRead(key)
    for (let reads = 1; read.raced && read.current === undefined && reads < UPDATE_MAX_ATTEMPTS; reads++) {
      this.watch.stop(read.watch)
      read = await this.watchedRead(key)
    }
    let loaded: R
    try {
      if (read.current !== undefined) return done(read.current)
      loaded = await loader(key)
      // A write that landed while the loader ran wins: serve it (or, after a delete, the loaded value, uncached).
      if (this.moved(read.watch, read.seen)) return done(this.access.cached(key) ?? loaded)
      if (loaded === undefined) return done(loaded)
    } finally {
      this.watch.stop(read.watch)
    }
    return { value: loaded, acknowledged: this.access.write(key, loaded, options) }
  }

  /**
   * Reads the key under a new watch. `raced`: a write landed while the read was out, and the read
   * may or may not have seen it (read again); `seen` is the cached version the read left.
   */
  private async watchedRead(key: string): Promise<{ watch: Watch; current: V | undefined; seen: number | undefined; raced: boolean }> {
    const watch = this.watch.start(key)
    try {
      const current = await this.access.read(key)
      return { watch, current, seen: this.access.versionOf(key), raced: this.watch.moved(watch) }
    } catch (error) {
      this.watch.stop(watch)
      throw error
    }
  }

  /** Whether the key was written since `watch` started; `seen` catches a write made around the facade's write path. */
  private moved(watch: Watch, seen: number | undefined): boolean {
    if (this.watch.moved(watch)) return true
    const now = this.access.versionOf(watch.key)
    return now !== undefined && now !== seen
  }
}

function ignore(): void {}

const RESOLVED = Promise.resolve()

/** A call that wrote nothing: its value, acknowledged at once. */
function done<T>(value: T): Applied<T> {
  return { value, acknowledged: RESOLVED }
}
