/**
 * The dirty log's public types: what the cache engine appends, what `DirtyLog.open()` recovers,
 * the options and the stats. The log stores versioned `set`/`delete`/`merge` records of encoded
 * values and the `seal` records that fix how merges were grouped into store ops; it
 * knows nothing of codecs, stores or flushing. What it leaves out: compaction (whole segments are
 * deleted after a checkpoint, records are never rewritten) and any reading of values by key.
 */
import type { Clock } from '../contracts/clock.js'
import type { MergeKind } from '../contracts/store.js'

/**
 * One record as the log keeps it: a write (`set`, `delete`, `merge`) or a `seal`. Every record
 * carries a version from the cache's one sequence, increasing from one append to the next.
 */
export type LogRecord = WriteRecord | MergeRecord | SealRecord

/** A `set` or a `delete`. */
export interface WriteRecord {
  readonly kind: 'set' | 'delete'
  readonly key: string
  /** A positive integer ≤ `Number.MAX_SAFE_INTEGER`, increasing from one append to the next. */
  readonly version: number
  /** The encoded value (codec text); `null` for a delete. An empty string is a legal value. */
  readonly encoded: string | null
}

/** A merge write (`increment`, `max`, `min`): its kind and operand, and the value after it. */
export interface MergeRecord {
  readonly kind: 'merge'
  readonly key: string
  readonly version: number
  readonly merge: MergeKind
  /** A finite number. */
  readonly operand: number
  /** The key's value after the merge as the cache saw it, encoded: what a replay serves. */
  readonly encoded: string
}

/**
 * Seals the key's merge records from its previous seal (or set, or delete) up to version `sealed`
 * as ONE group: the flush handed them to the store as one merge op with that version, so a replay
 * must hand them out as that same op again (never regrouped, which could add a delta twice).
 */
export interface SealRecord {
  readonly kind: 'seal'
  readonly key: string
  /** The seal's own version (from the same sequence as writes), above the group's. */
  readonly version: number
  /** The version of the group's last merge record: the op's version. */
  readonly sealed: number
  readonly encoded: null
}

/** A cut made by recovery: a torn tail, or (with `recovery: 'truncate'`) a corrupt record and all after it. */
export interface Truncation {
  /** Segment file name (not a path). */
  readonly segment: string
  /** Byte offset in that segment where the file was cut. */
  readonly offset: number
  /** Records dropped: the torn or corrupt one (if it had a header) and any after it. */
  readonly droppedRecords: number
  readonly reason: string
}

export type LogEvent =
  | ({ readonly type: 'truncated' } & Truncation)
  | { readonly type: 'segment-deleted'; readonly segment: string; readonly highestVersion: number }
  /** `writtenVersion`: the highest version whose record reached the OS; every record above it is lost. */
  | { readonly type: 'failed'; readonly error: Error; readonly writtenVersion: number }

export interface DirtyLogOptions {
  /** Directory of the log (created with mode 0700 if missing). One writer process at a time. */
  dir: string
  /** Roll to a new segment when the next record would take the active one past this size. @default 64 MiB (DEFAULTS.segmentBytes) */
  segmentBytes?: number
  /** If set, fsync in the background this often (durability `log` with a bounded power-loss window). @default none (DEFAULTS.syncIntervalMs) */
  syncIntervalMs?: number
  /** On a corrupt record before the tail: `strict` throws `LogCorruptionError`; `truncate` drops it and everything after. @default 'strict' (DEFAULTS.recovery) */
  recovery?: 'strict' | 'truncate'
  /** Time source for the background sync timer. @default the system clock */
  clock?: Clock
  /** Receives truncations, segment deletions and the failure of a write or fsync. */
  onEvent?: (e: LogEvent) => void
  /**
   * Called after every fsync round (the background one, a group commit for `disk` writes, the
   * one closing a segment) with how long it took, in ms (`performance.now()`). Called often: it
   * builds nothing unless it needs to. An exception from it is ignored.
   */
  onFsync?: (durationMs: number) => void
  /**
   * When the fs write for a turn's appends runs: in a microtask (`microtask`, the default, fastest
   * for a sequential writer and as good for concurrent ones in our benchmark) or `immediate`.
   * Exposed for the benchmark; there is no reason to change it. @default 'microtask' (DEFAULTS.logWriteScheduling)
   */
  writeScheduling?: 'microtask' | 'immediate'
  /** Write the buffer early once it holds this many bytes. @default 1 MiB */
  writeThresholdBytes?: number
  /** Receives one-time warnings about the dir (`WB_DIR_GROUP_WRITABLE`, `WB_DIR_FOREIGN_OWNER`). @default process.emitWarning */
  warn?: (code: string, message: string) => void
}

export interface Recovered {
  /** Every intact record with version > `lowWater`, in log order (which is version order). */
  readonly records: LogRecord[]
  /** From the checkpoint; 0 if there is none. */
  readonly lowWater: number
  /** max(checkpoint highWater, every version seen in any segment); survives segment deletion. */
  readonly highestVersion: number
  readonly truncations: Truncation[]
}

export interface LogStats {
  /** Segment files, the active one included. */
  readonly segments: number
  /** Bytes of every segment, buffered bytes included. */
  readonly bytes: number
  /** Records appended since open. */
  readonly appendedRecords: number
  /** fs writes issued since open (group commit: many appends share one). */
  readonly writes: number
  /** fdatasync rounds since open (group commit: many `synced()` callers share one). */
  readonly fsyncs: number
  /** The active segment's name. */
  readonly activeSegment: string
  /** Bytes of the active segment known to be fsynced. */
  readonly lastSyncedOffset: number
  /** Per segment name, the byte offset up to which it is known fsynced. */
  readonly syncedOffsets: Readonly<Record<string, number>>
  /** The highest version appended or recovered. */
  readonly highestVersion: number
}
