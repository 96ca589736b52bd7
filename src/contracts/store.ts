/**
 * The Store contract: where flushed writes land (a database, an API, anything durable).
 *
 * What the contract promises the cache, and what the cache promises a store:
 * - Delivery is AT-LEAST-ONCE. A batch may be delivered again after a retry, a crash and replay,
 *   or a dead-letter replay. A store must therefore apply an op only if its `version` is newer than
 *   the version it already holds for that key (a "fenced" or "versioned" apply); redelivery of an
 *   old op is then harmless, and an old op never overwrites a newer value.
 * - Deletes are versioned too: a store keeps a tombstone (key, version, deleted) so that a
 *   replayed older `set` cannot resurrect a deleted key.
 * - Within one batch, ops are ordered by version. A batch may contain the same key more than once
 *   (with `coalesce: false`, or merge ops replayed after a crash). For sets and deletes, applying
 *   them in order or applying only the highest version per key gives the same final state under
 *   fencing; merge ops of one key must be applied in order, each fenced on its own (a `sum`'s
 *   delta is lost if collapsed).
 * - The cache never has two batches in flight that hold the same key.
 *
 * What the contract leaves out: transactions across batches, cross-key ordering between batches,
 * and the table or wire format, which are the store's own business.
 */

/** A versioned write to one key, as the cache hands it to a store. */
export type StoreOp = StoreSetOp | StoreDeleteOp | StoreMergeOp

export interface StoreSetOp {
  readonly kind: 'set'
  readonly key: string
  /**
   * The write's version: unique across the cache and increasing over time (also across restarts).
   * A positive integer no larger than `Number.MAX_SAFE_INTEGER`; stores keep it as a 64-bit integer.
   */
  readonly version: number
  /** The value, decoded. Computed lazily from `encoded`, so stores that only need text pay nothing. */
  readonly value: unknown
  /** The value as the cache's codec encoded it: JSON text with the default codec. */
  readonly encoded: string
}

export interface StoreDeleteOp {
  readonly kind: 'delete'
  readonly key: string
  readonly version: number
}

/** How a merge op combines its operand with the stored number. */
export type MergeKind = 'sum' | 'max' | 'min'

/**
 * A merge write (`cache.increment`, `cache.max`, `cache.min`): the store combines `operand` with
 * the number it holds for the key, in the same statement that writes it (no read round trip), and
 * only if the op's version is newer than the one it holds, like any op (then it also stores the
 * op's version). A key the store does not hold, or holds as a tombstone, starts from `operand`.
 * A stored value that is not a number fails the op (`StoreError`, `retryable: false`, scope `op`).
 *
 * Exactly once: the cache sends the `sum` of one key's increments in version order, each op
 * covering exactly the increments since the key's previous op (its version is the last one's), and
 * never sends a key's next `sum` before the previous one is settled; a redelivered op carries the
 * same version and delta, so the fence makes it a no-op. A store must therefore apply a `sum` op
 * exactly when `version > stored version`, never partially, and keep the op's version.
 */
export interface StoreMergeOp {
  readonly kind: 'merge'
  readonly key: string
  readonly version: number
  readonly merge: MergeKind
  /** The number to add (`sum`) or to compare with (`max`, `min`). A finite number. */
  readonly operand: number
}

/** One op of a batch that the store could not apply; the other ops of the batch did apply. */
export interface OpFailure {
  /** Index of the op in the batch passed to `writeBatch`. */
  readonly index: number
  readonly error: Error
}

/**
 * What `writeBatch` may report. Returning nothing (or `{}`) means every op was applied or was
 * older than what the store holds (fenced, which also counts as done).
 */
export interface BatchResult {
  /** Ops that failed on their own; every op not listed here is done. */
  readonly failures?: readonly OpFailure[]
  /** How many ops were skipped because the store already held a newer version (for stats). */
  readonly fenced?: number
  /**
   * Ops that were NOT applied because the store holds a STRICTLY newer version of their key
   * (written by another writer, or issued by a cache whose versions fell behind), each with the
   * version the store holds. An op whose version the store already holds exactly is a redelivery
   * and counts as applied: do not list it. A fenced op is news, not success: the cache stops
   * serving its value and rejects a write-through that waited for it (`WriteSupersededError`).
   * Stores that cannot tell leave this out (their fenced ops then count as applied).
   */
  readonly superseded?: readonly SupersededOp[]
}

/** An op the store refused because it holds a newer version of the key. */
export interface SupersededOp {
  /** Index of the op in the batch passed to `writeBatch`. */
  readonly index: number
  /** The version the store holds for the key (greater than the op's). */
  readonly version: number
}

/** A value read back from a store. Tombstoned (deleted) keys are simply absent. */
export type LoadedEntry = { readonly version: number; readonly value: unknown; readonly encoded?: undefined } | { readonly version: number; readonly encoded: string; readonly value?: undefined }

export interface Store {
  /**
   * Applies an ordered batch of versioned ops.
   *
   * Resolves when the ops are durable in the store (committed). Throwing or rejecting fails the
   * whole batch: the cache then assumes nothing is known about which ops applied and will retry
   * (redelivery is safe because of fencing). To fail single ops, resolve with `failures`.
   *
   * Errors: mark an error as not worth retrying (bad data, constraint violation) by throwing a
   * `StoreError` with `retryable: false`, or any error with a boolean `retryable` property. Other
   * errors are treated as retryable (lost connection, timeout, deadlock).
   *
   * May be called concurrently (up to `flush.concurrency` batches), never with one key in two
   * concurrent calls.
   */
  writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void>

  /**
   * Reads the current values of `keys` (read-through on a cache miss). Keys that are absent or
   * tombstoned are left out of the returned map. May be called concurrently and repeatedly.
   */
  load(keys: readonly string[]): Promise<Map<string, LoadedEntry>>

  /**
   * The version held for each of `keys`, tombstones included (a key never written is left out);
   * `undefined` when the store cannot tell (no version column, or deletes that keep no tombstone).
   * Optional: the Redis tier reads it to learn whether a write-through whose entry a failover lost
   * is in the store; without it a delete is taken as held when the store has no row, which an
   * older set still in flight from the old primary can then overwrite.
   */
  versions?(keys: readonly string[]): Promise<Map<string, number> | undefined>

  /**
   * Cheap health check (a `SELECT 1`), used to probe a store while the flush circuit is open so
   * that an outage does not burn the retry budget of real entries. Optional: without it the
   * circuit probes with a real batch.
   */
  ping?(): Promise<void>

  /**
   * Verifies that the store can take writes: reachable, authenticated, its table present (or
   * created) and readable and writable by this role. Throws a `StoreError` whose message names the
   * cause and what to do (a missing table, a missing privilege, a wrong password, a missing driver
   * package). `WriteBehindCache.open()` calls it (unless `checkStore: false`) before it touches
   * anything, and the CLI's recovery commands call it before they touch a dir. Optional: without
   * it the cache falls back to `ping()`. May be called repeatedly; changes no row.
   */
  check?(): Promise<void>

  /**
   * The highest version the store holds for any key (0 when empty). The cache raises its version
   * source above it at open, so that a cache without a dirty log, on a clock that stepped back,
   * never issues versions that the store would fence. Optional; may cost a scan.
   */
  highestVersion?(): Promise<number>

  /**
   * The merge ops this store applies (`StoreMergeOp`). The cache refuses `increment`, `max` and
   * `min` on a store that does not list the kind (a `TypeError` naming it). Optional: none.
   */
  readonly merges?: readonly MergeKind[]

  /** Releases resources the store owns. Called once by `cache.close()`; optional. */
  close?(): Promise<void>
}
