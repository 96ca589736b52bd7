/**
 * What the cache's long calls take and resolve with: `flush()`, `close()` and
 * `replayDeadLetters()`. Plain data, safe to log or serialize (but for `CloseReport.errors`).
 */
import type { DeadLetter } from './dead-letters.js'
import type { SupersededWrite } from './events.js'

/** Options of one `flush()` call. */
export interface FlushCallOptions {
  /** Reject with `FlushTimeoutError` (`E_FLUSH_TIMEOUT`) after this long; flushing goes on. @default undefined (wait as long as it takes) */
  timeoutMs?: number
  /** Reject with `FlushTimeoutError` (`E_FLUSH_ABORTED`) when it aborts; flushing goes on. @default undefined */
  signal?: AbortSignal
}

/** What `flush()` resolves with. Two empty lists mean every write made before the call is in the store. */
export interface FlushReport {
  /** Dead letters of writes made before the call. */
  deadLettered: DeadLetter[]
  /** Writes made before the call that the store refused because it held a newer version. */
  superseded: SupersededWrite[]
}

/** What `close()` resolves with. */
export interface CloseReport {
  /** True when everything acknowledged reached the store (or the dead-letter queue). */
  readonly drained: boolean
  /** Unflushed entries left behind. */
  readonly unflushed: number
  /** Up to 100 of their keys. */
  readonly unflushedKeys: string[]
  /** True when the dirty log closed cleanly: unflushed entries are in it and the next open() replays them. */
  readonly safeInLog: boolean
  /** Dead letters in the queue (in `dir/dead-letters.log`, or lost with the process without a dir). */
  readonly deadLetters: number
  /** Cleanups that failed (log, dead-letter queue, store). */
  readonly errors: Error[]
}

/** What `replayDeadLetters()` resolves with. */
export interface ReplayReport {
  /** Letters sent to the store and accepted (applied, or fenced by a newer version there). */
  readonly replayed: number
  /** Letters dropped without a store call: the cache holds a newer write of the key. */
  readonly superseded: number
  /** Letters that failed again (still in the queue, with the new error). */
  readonly failed: number
  /** Letters skipped because their key is being flushed right now; replay again later. */
  readonly busy: number
}
