/**
 * The shape of `cache.stats()` and of the events a cache emits. Counters are totals since open.
 */

export interface CacheStats {
  /** Writes acknowledged (set + delete calls that resolved or are pending at durability > memory). */
  readonly writes: number
  readonly reads: { readonly hits: number; readonly misses: number; readonly loads: number }
  readonly backlog: {
    /** Unflushed entries now (dirty keys; queued ops with `coalesce: false`), in flight included. */
    readonly entries: number
    readonly bytes: number
    /** The most entries the backlog ever held. */
    readonly highWaterEntries: number
    /** Age of the oldest unflushed write, 0 when nothing is dirty. How far the store lags. */
    readonly oldestDirtyAgeMs: number
    /** Writes waiting for room (`whenFull: 'wait'`). */
    readonly waitingWrites: number
  }
  readonly flush: {
    readonly batches: number
    /** Ops the store accepted (applied or fenced). */
    readonly ops: number
    /** Ops the store skipped because it held a newer version. */
    readonly fenced: number
    readonly failedBatches: number
    readonly retries: number
    readonly deadLettered: number
    /** Ops the store refused because it held a strictly newer version (see `WriteSupersededError`). */
    readonly superseded: number
    readonly inFlightBatches: number
    /** Flights holding writes the store refused with no proof yet that it takes others (a deploy mistake?). */
    readonly heldBatches: number
  }
  /** Writes acknowledged per op written to the store (1 = no coalescing; higher is better). */
  readonly coalescingRatio: number
  readonly memory: { readonly entries: number; readonly bytes: number; readonly evictions: number }
  readonly circuit: 'closed' | 'open'
  readonly deadLetters: number
  /** The highest version issued so far. */
  readonly lastVersion: number
  /** The dirty log (undefined without a dir): segments on disk, bytes, fs writes and fsyncs. */
  readonly log: { readonly segments: number; readonly bytes: number; readonly writes: number; readonly fsyncs: number } | undefined
}

/** Events, by name, with their payloads (`cache.on(name, listener)`). */
export interface CacheEvents {
  flush: [{ ops: number; fenced: number; durationMs: number }]
  'flush:failed': [{ ops: number; error: Error; attempt: number; retryInMs: number | undefined }]
  'dead-letter': [{ key: string; version: number; error: Error }]
  /** The store held a strictly newer version than a flushed write: the write is not in the store. */
  superseded: [SupersededWrite]
  'circuit:open': [{ error: Error; failures: number }]
  'circuit:close': [{ openForMs: number }]
  'backlog:full': [{ entries: number; bytes: number }]
  'alert:staleness': [{ oldestDirtyAgeMs: number; thresholdMs: number }]
  'alert:recovered': [{ oldestDirtyAgeMs: number; thresholdMs: number }]
  'log:truncated': [{ segment: string; offset: number; droppedRecords: number; reason: string }]
  recovered: [RecoveryReport]
  warning: [{ code: string; message: string }]
}

/** A write the store refused because it holds a strictly newer version of the key. */
export interface SupersededWrite {
  readonly key: string
  readonly version: number
  /** The version the store holds. */
  readonly storeVersion: number
}

/** What `open()` found in the dirty log (`cache.recovery`). */
export interface RecoveryReport {
  /** Records above the checkpoint that were replayed. */
  readonly records: number
  /** Keys they made dirty again (to be flushed). */
  readonly keys: number
  readonly durationMs: number
  /** Torn tails cut, or corrupt records dropped with `recovery: 'truncate'`. */
  readonly truncations: ReadonlyArray<{ segment: string; offset: number; droppedRecords: number; reason: string }>
}
