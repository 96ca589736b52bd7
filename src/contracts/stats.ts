/**
 * The shape of `cache.stats()`: counters (totals since open) and gauges (values now). A snapshot:
 * reading it changes nothing, and two calls may differ. The contract leaves out per-key figures
 * and history (rates are yours to derive from two snapshots).
 */

import type { Durability } from './options.js'

/** A histogram's summary: observations, quantiles from fixed buckets, and the largest seen. */
export interface LatencySummary {
  readonly count: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/** What `cache.stats()` returns. */
export interface CacheStats {
  /** Writes acknowledged (set + delete calls that resolved or are pending at durability > memory). */
  readonly writes: number
  /** Reads: `hits` served from memory, `misses` that went to the store, `loads` (store round trips; concurrent misses share one). */
  readonly reads: { readonly hits: number; readonly misses: number; readonly loads: number }
  /** The unflushed writes. */
  readonly backlog: {
    /** Unflushed entries now (dirty keys; queued ops with `coalesce: false`), in flight included. */
    readonly entries: number
    /** Bytes of those entries' keys and values (UTF-16 code units). */
    readonly bytes: number
    /** The most entries the backlog ever held. */
    readonly highWaterEntries: number
    /** Age of the oldest unflushed write, 0 when nothing is dirty. How far the store lags. */
    readonly oldestDirtyAgeMs: number
    /** Writes waiting for room (`whenFull: 'wait'`). */
    readonly waitingWrites: number
    /** The cap on `entries` (`backlog.maxEntries`, resolved): `entries / maxEntries` is how near the backlog is to full. `Infinity` when unbounded. */
    readonly maxEntries: number
    /** The cap on `bytes` (`backlog.maxBytes`, resolved). `Infinity` when unbounded. */
    readonly maxBytes: number
  }
  /** The flush pipeline. */
  readonly flush: {
    /** `store.writeBatch` calls that succeeded. */
    readonly batches: number
    /** Ops the store accepted (applied or fenced). */
    readonly ops: number
    /** Ops the store skipped because it held a newer version. */
    readonly fenced: number
    /** `store.writeBatch` calls that failed (threw, timed out, or reported failed ops). */
    readonly failedBatches: number
    /** Ops scheduled for another attempt after a failure. */
    readonly retries: number
    /** Ops sent to the dead-letter queue. */
    readonly deadLettered: number
    /** Ops the store refused because it held a strictly newer version (see `WriteSupersededError`). */
    readonly superseded: number
    /** Batches in flight now. */
    readonly inFlightBatches: number
    /** Flights holding writes the store refused with no proof yet that it takes others (a deploy mistake?). */
    readonly heldBatches: number
    /** Duration of `store.writeBatch` calls (succeeded and failed). */
    readonly batchDuration: LatencySummary
    /** Ops per `store.writeBatch` call: count, quantiles and max (in ops, not ms, despite the field names). */
    readonly batchOps: LatencySummary
  }
  /** Writes acknowledged per op written to the store (1 = no coalescing; higher is better; 0 before the first flush). */
  readonly coalescingRatio: number
  /**
   * The memory tier now: entries, bytes of keys and encoded values, clean entries evicted so far
   * (the memory bound), and expired entries dropped so far (`ttlMs`).
   */
  readonly memory: { readonly entries: number; readonly bytes: number; readonly evictions: number; readonly expired: number }
  /** `open` while flushing is paused after repeated failures (probing the store), else `closed`. */
  readonly circuit: 'closed' | 'open'
  /** Dead letters in the queue now. */
  readonly deadLetters: number
  /** The highest version issued so far. */
  readonly lastVersion: number
  /**
   * Ack latency per durability level since open: how long callers waited for their writes
   * (a level no write used has count 0 and zeros). Quantiles come from fixed buckets: each is the
   * upper bound of its bucket, so it overstates by at most one bucket's width. Failed writes are
   * left out (the write channel has them, `ok: false`). A `memory` write acknowledged within its
   * call counts as 0 ms unless the write channel has a subscriber (a clock read would cost a
   * quarter of such a write); one that waited for room in the backlog is timed.
   */
  readonly ack: { readonly [level in Durability]: LatencySummary }
  /** The dirty log (undefined without a dir): segments on disk, bytes, fs writes and fsyncs. */
  readonly log: { readonly segments: number; readonly bytes: number; readonly writes: number; readonly fsyncs: number } | undefined
}
