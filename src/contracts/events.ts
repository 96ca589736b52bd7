/**
 * The events a cache emits (`cache.on(name, listener)`), with their payloads. Listeners run
 * synchronously, inside the cache's work: keep them short. The cache never emits `error`. The
 * contract leaves out ordering between events of different names.
 */

/** Events, by name, with their payloads. */
export interface CacheEvents {
  /** A batch reached the store: its ops, how many the store fenced (held newer), and how long the call took. */
  flush: [{ ops: number; fenced: number; durationMs: number }]
  /** A batch failed: `attempt` of its ops, and the backoff before the next (undefined when it is not retried as is). */
  'flush:failed': [{ ops: number; error: Error; attempt: number; retryInMs: number | undefined }]
  /**
   * Global order (`flush.order: 'global'`): a write failed for good, and instead of being
   * dead-lettered it halts flushing: it is retried with backoff and no later write reaches the
   * store until it lands or its key is written again (the new write replaces it). The backlog
   * grows meanwhile (`backlog.whenFull` applies). Once per held write.
   */
  'flush:halted': [{ key: string; version: number; error: Error }]
  /** A write could not be flushed and went to the dead-letter queue. */
  'dead-letter': [{ key: string; version: number; error: Error }]
  /** The store held a strictly newer version than a flushed write: the write is not in the store. */
  superseded: [SupersededWrite]
  /** Repeated failures opened the circuit: flushing pauses and probes the store. */
  'circuit:open': [{ error: Error; failures: number }]
  /** A batch succeeded while the circuit was open: flushing resumes. */
  'circuit:close': [{ openForMs: number }]
  /** A write found the backlog full (once per episode of fullness). */
  'backlog:full': [{ entries: number; bytes: number }]
  /** The oldest unflushed write became older than `alerts.maxStalenessMs`. */
  'alert:staleness': [{ oldestDirtyAgeMs: number; thresholdMs: number }]
  /** The oldest unflushed write is within `alerts.maxStalenessMs` again. */
  'alert:recovered': [{ oldestDirtyAgeMs: number; thresholdMs: number }]
  /** `open()` cut the dirty log: a torn tail, or a corrupt record with `recovery: 'truncate'`. */
  'log:truncated': [LogTruncation]
  /** `open()` replayed writes from the dirty log (emitted only when there were some). */
  recovered: [RecoveryReport]
  /** Something worth a look that is not an error of any call (`WB_CHECKPOINT_FAILED`, `WB_FLUSH_INTERNAL`, `WB_LOG_FAILED`). */
  warning: [{ code: string; message: string }]
}

/** A write the store refused because it holds a strictly newer version of the key. */
export interface SupersededWrite {
  /** The key written. */
  readonly key: string
  /** The refused write's version. */
  readonly version: number
  /** The version the store holds. */
  readonly storeVersion: number
}

/** What `open()` found in the dirty log (`cache.recovery`, and the `recovered` event). */
export interface RecoveryReport {
  /** Records above the checkpoint that were replayed. */
  readonly records: number
  /** Keys they made dirty again (to be flushed). */
  readonly keys: number
  /** How long the replay took. */
  readonly durationMs: number
  /** Torn tails cut, or corrupt records dropped with `recovery: 'truncate'`. */
  readonly truncations: readonly LogTruncation[]
}

/** A cut `open()` made in the dirty log. */
export interface LogTruncation {
  /** Segment file name (not a path). */
  readonly segment: string
  /** Byte offset in that segment where the file was cut. */
  readonly offset: number
  /** Records dropped: the torn or corrupt one and any after it. */
  readonly droppedRecords: number
  /** Why (a torn tail, a checksum mismatch...). */
  readonly reason: string
}
