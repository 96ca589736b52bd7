/**
 * Read-modify-writes on a shared tier (Redis), where other processes write the same keys: each
 * reads the key with its version in Redis, computes, and writes only if Redis still holds that
 * version (the write script's compare-and-swap, `expect`); a conflict reads and computes again
 * after a short random pause, a bounded number of times (`REMOTE_MAX_ATTEMPTS`).
 *
 *   update(key, fn)        per-key turn ─► read (with read-through) ─► fn ─► write if unchanged, else again
 *   getOrSet(key, loader)  single-flight ─► read ─► hit? done : loader ─► write if unchanged, else serve theirs
 *   merge(key, kind, n)    per-key turn ─► read ─► combine (a number, or none) ─► write if unchanged, else again
 *
 * Within a process, updates and counters of one key take turns (key-chain.ts), so they do not
 * conflict with each other; across processes the compare-and-swap decides, and no write is lost.
 * The bound is higher than the embedded tier's 10 (`UPDATE_MAX_ATTEMPTS`): there, updates of a key
 * never conflict with each other; here two processes updating one key lose about every other race.
 * Unlike the embedded tier's counters, the store receives the counter's whole value (a `set`, fenced
 * by version), not a merge op: the value in Redis is the counter, and the store holds its latest.
 */
import type { MergeKind } from '../../contracts/store.js'
import { UpdateConflictError } from '../../errors.js'
import { baseOf, resultOf } from '../../tier/embedded/merges.js'
import type { Codec } from '../../contracts/codec.js'
import { KeyChain } from '../key-chain.js'
import { SingleFlight } from '../single-flight.js'

/**
 * How many times an update or a counter reads and writes in all before it gives up with
 * `UpdateConflictError` (`fn` runs at most this often). Two processes racing on one key win about
 * every other attempt, so failing at this bound takes 100 lost races in a row.
 */
export const REMOTE_MAX_ATTEMPTS = 100

/** The longest pause after a conflict, ms (each pause is a uniform draw below min(attempt, this)). */
const MAX_PAUSE_MS = 20

/** A key as Redis holds it after a read (read-through included): its value and its version there. */
export interface KeyRead<V> {
  readonly current: V | undefined
  /** Its encoded value (null: absent or deleted). */
  readonly encoded: string | null
  /** The entry's version in Redis, as the write script compares it; `'0'`: no entry. */
  readonly expect: string
}

/** An applied write; `acknowledged` settles at its durability. */
export interface Applied {
  readonly acknowledged: Promise<void>
}

/** Writes `value` (undefined deletes) only if Redis still holds version `expect`; undefined on a conflict. */
export type WriteIf<T> = (key: string, value: T, expect: string) => Promise<Applied | undefined>

export class RemoteKeyed<V> {
  private readonly turns = new KeyChain()
  private readonly flights = new SingleFlight()

  constructor(
    private readonly read: (key: string) => Promise<KeyRead<V>>,
    private readonly codec: Codec,
    /** Resolves after `ms` (the cache's clock). */
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}

  /** `fn(current)` written over the version it read; again on a conflict, `REMOTE_MAX_ATTEMPTS` times in all. */
  async update(key: string, fn: (current: V | undefined) => V | undefined | Promise<V | undefined>, writeIf: WriteIf<V | undefined>): Promise<V | undefined> {
    const done = await this.turns.run(key, async () => {
      for (let attempt = 1; attempt <= REMOTE_MAX_ATTEMPTS; attempt++) {
        if (attempt > 1) await this.pause(attempt)
        const read = await this.read(key)
        const value = await fn(read.current)
        const applied = await writeIf(key, value, read.expect)
        if (applied !== undefined) return { value, applied }
      }
      throw new UpdateConflictError(key, REMOTE_MAX_ATTEMPTS)
    })
    await done.applied.acknowledged
    return done.value
  }

  /**
   * The key's value, or on a miss `loader(key)` written over the version read (single-flight per
   * key in this process). A write that landed meanwhile wins: its value is served (after a
   * delete, the loaded value, not cached).
   */
  async getOrSet<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, writeIf: WriteIf<R>): Promise<V | R> {
    const done = await this.flights.run(key, async (): Promise<{ value: V | R; applied?: Applied }> => {
      const read = await this.read(key)
      if (read.current !== undefined) return { value: read.current }
      const loaded = await loader(key)
      if (loaded === undefined) return { value: loaded }
      const applied = await writeIf(key, loaded, read.expect)
      if (applied !== undefined) return { value: loaded, applied }
      return { value: (await this.read(key)).current ?? loaded }
    })
    await done.applied?.acknowledged
    return done.value
  }

  /** Combines the number under `key` (none: the operand) with `operand` by `kind` and writes it over the version read. */
  async merge(key: string, kind: MergeKind, operand: number, writeIf: WriteIf<number>): Promise<number> {
    const done = await this.turns.run(key, async () => {
      for (let attempt = 1; attempt <= REMOTE_MAX_ATTEMPTS; attempt++) {
        if (attempt > 1) await this.pause(attempt)
        const read = await this.read(key)
        const value = resultOf(key, kind, baseOf(key, read.encoded, this.codec, kind), operand)
        const applied = await writeIf(key, value, read.expect)
        if (applied !== undefined) return { value, applied }
      }
      throw new UpdateConflictError(key, REMOTE_MAX_ATTEMPTS)
    })
    await done.applied.acknowledged
    return done.value
  }

  /** A random pause before attempt number `attempt`, so that racing processes fall out of step. */
  private pause(attempt: number): Promise<void> {
    return this.sleep(Math.floor(Math.random() * Math.min(attempt, MAX_PAUSE_MS)))
  }
}
