/**
 * The seam between the flush pipeline and a tier: the place where a cache's dirty state lives.
 *
 * The pipeline (this folder: the scheduler, the flusher with its retry, backoff, bisection and
 * circuit, the staleness alarm, write-through waiters) sees a tier only through `DirtyTier`. The
 * embedded tier (memory tier + backlog + dirty log, `src/tier/embedded/`) is the first
 * implementation. A tier whose dirty set lives in Redis is meant to be the second without a change
 * here: its `take` claims due keys of the shards it holds a lease on (asynchronously: `take` may
 * return a promise), `applied` acknowledges by compare-and-swap on the version, and its versions
 * come from Redis (`highestVersion` is then this process's own mark).
 *
 * The contract, as the pipeline relies on it:
 * - Every op `take` gives out belongs to the pipeline until it reports exactly one outcome for it
 *   (`applied`, `superseded` or `deadLettered`), or the cache stops with it unsettled (it is then
 *   still in the tier's durable state: the log, or Redis). The pipeline never has two ops of one
 *   key in flight: `take` must skip the keys in `busy`.
 * - Outcomes of one key arrive in version order; an outcome for an op whose key was written again
 *   since must leave the newer write dirty (mark clean only if the version is unchanged).
 * - Delivery is at least once: after a crash the tier gives out again what it cannot prove
 *   settled; the store's version fence makes that harmless.
 *
 * What it leaves out: how writes get in, reads, and durability levels (each tier has its own
 * write path, behind the cache facade), and dead-letter storage (`src/dead-letters/`).
 */
import type { PendingOp } from './pending-op.js'

export interface DirtyTier {
  /** Unflushed ops waiting for a batch (not in a flight): dirty keys, or queued ops without coalescing. */
  readonly waiting: number
  /** Bytes of their keys and encoded values. */
  readonly waitingBytes: number
  /**
   * The highest version issued so far. `flush()` waits until every version at or below the mark it
   * read here is settled. Monotonic.
   */
  readonly highestVersion: number
  /** The lowest version waiting, or undefined when nothing waits. */
  lowestWaiting(): number | undefined
  /** Clock time of the oldest waiting write (its first unflushed write), or undefined. */
  oldestWaiting(): number | undefined
  /**
   * Takes up to `max` ops, oldest first, none with a key in `busy`; the keys of `first` (writes at
   * durability `store` waiting) go before the rest. May be asynchronous; the pipeline takes again
   * only after a promise settled. An empty answer means nothing is due.
   *
   * A tier built for global order (`flush.order: 'global'`; the pipeline then takes only while no
   * flight is out, and passes no `first`) answers with the next range of versions, in version
   * order: no op it gives out later has a version at or below one of this batch, and the batch
   * holds every key with an unflushed write in the range. A tier that keeps only a key's latest
   * value must therefore take every key first dirtied at or below the highest version taken,
   * even past `max`.
   */
  take(max: number, busy: ReadonlySet<string>, first: ReadonlyMap<string, unknown> | undefined): PendingOp[] | Promise<PendingOp[]>
  /** The store has `op` (applied, or held that very version already). */
  applied(op: PendingOp): void
  /** The store holds `storeVersion`, strictly newer than `op`'s: settled, not applied. */
  superseded(op: PendingOp, storeVersion: number): void
  /** `op` is durably in the dead-letter queue: the tier keeps serving its value. */
  deadLettered(op: PendingOp): void
  /**
   * Every version at or below `lowWater` is settled (in the store, superseded or dead-lettered):
   * the tier may forget it (the embedded tier moves its log checkpoint). Called as flights end.
   */
  settledThrough(lowWater: number): void
  /** The scheduler's interval ticked (the embedded tier raises its version floor to the clock). */
  tick(): void
}
