/**
 * The simulator's wire between the parent (the dashboard) and the workload child (child.ts), over
 * the `fork` IPC channel with structured-clone serialization (so `Infinity` in stats survives).
 * The child reports every acknowledged write (key index and sequence number, which is also in the
 * row it writes), a stats snapshot a few times a second, the log's length at each fsync, and what
 * recovery found. Messages from one child arrive in the order sent; a SIGKILL drops the unsent.
 */
import type { Durability } from '../../contracts/options.js'
import type { CacheStats } from '../../contracts/stats.js'
import type { SampleLimits } from '../dashboard/sample.js'

/** How the writers pick keys: uniformly, Zipf hot keys, or Zipf in bursts (1 s on, 1 s off). */
export type WorkloadShape = 'uniform' | 'zipf' | 'bursts'

/** Where flushed writes land: an SQLite file in the run's dir, or a table in PostgreSQL. */
export type SimStoreKind = 'sqlite' | 'postgres'

/** What one run is: the workload and the cache settings. */
export interface SimSettings {
  readonly workload: WorkloadShape
  readonly writers: number
  /** Share of operations that are reads (`get`), 0..1. */
  readonly readShare: number
  readonly keys: number
  readonly durability: Durability
  readonly intervalMs: number
  readonly batchSize: number
  readonly coalesce: boolean
  readonly store: SimStoreKind
  readonly seed: number
}

/** The child's start parameters: the settings, where its files are, and its mode. */
export interface ChildConfig {
  readonly settings: SimSettings
  /** `write`: run the workload until killed or told to stop; `recover`: open (replaying the log), drain, close. */
  readonly mode: 'write' | 'recover'
  /** The log dir (undefined at `memory`). */
  readonly dir: string | undefined
  /** SQLite file path, or the PostgreSQL table's name. */
  readonly db: string
  /** PostgreSQL connection URL (store `postgres`). */
  readonly pgUrl: string | undefined
  /** Stats snapshot period. */
  readonly statsEveryMs: number
}

/** Store faults the parent can switch in the child while it runs. */
export interface StoreFaults {
  /** Every store call fails (retryably), as when the server is stopped. */
  readonly down: boolean
  /** Added to every store call. */
  readonly delayMs: number
  /** Share of ops (0..1) refused as bad data (not retryable): they go to the dead-letter queue. */
  readonly poisonShare: number
}

export type ParentMessage = { readonly type: 'faults'; readonly faults: StoreFaults } | { readonly type: 'stop' }

export type ChildMessage =
  | { readonly type: 'ready'; readonly recovered: { readonly records: number; readonly keys: number } | undefined }
  /** Acknowledged writes since the last report: `keys[i]` was written with `seqs[i]`; `at` is `Date.now()` of the first; reads done and calls failed. */
  | { readonly type: 'acks'; readonly keys: Uint32Array; readonly seqs: Float64Array; readonly at: number; readonly reads: number; readonly errors: number }
  | { readonly type: 'stats'; readonly stats: CacheStats; readonly at: number; readonly limits: SampleLimits }
  /** The newest segment and its length when an fsync completed (what a power cut keeps). */
  | { readonly type: 'fsynced'; readonly segment: string; readonly bytes: number }
  /** A write of key `key` went to the dead-letter queue. */
  | { readonly type: 'dead-letter'; readonly key: number }
  | { readonly type: 'closed'; readonly drained: boolean; readonly unflushed: number }
  | { readonly type: 'failed'; readonly message: string }

/** The value each write stores: its sequence number and when it was made. */
export interface SimValue {
  readonly seq: number
  readonly at: number
}

/** The key of index `i`. */
export function simKey(i: number): string {
  return `k:${i}`
}
