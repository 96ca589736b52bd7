/**
 * What the flusher (flusher.ts) is built with and reports through: the hooks that settle each op
 * (applied, superseded, landed, dead-lettered) and report each store call, its options, and the
 * counts it keeps for `stats()`. The contract leaves out how batches are retried and split (the
 * flusher's header says that).
 */
import type { PendingOp } from './pending-op.js'
import type { RetryPolicy } from './retry.js'

export interface FlusherHooks {
  /** The op is in the store (applied, or a redelivery). Called before its key stops being busy. */
  applied(op: PendingOp): void
  /** The store holds `storeVersion`, strictly newer than the op's: settled, not applied. */
  superseded(op: PendingOp, storeVersion: number): void
  /**
   * The ops reached the store (applied or superseded). Resolves once the dead letters of their
   * keys that they supersede are removed durably; `undefined` when there is nothing to wait for.
   */
  landed(ops: readonly PendingOp[]): Promise<void> | undefined
  /** The ops failed for good; resolves once they are persisted in the dead-letter queue. */
  deadLetter(ops: readonly PendingOp[], error: Error): Promise<void>
  /** A whole flight has ended (all of its ops settled, or the flusher stopped). */
  flightEnded(): void
  /** A flight holds refused writes and stopped counting toward `flush.concurrency`. */
  slotFreed(): void
  /** A store call returned: `ops` applied or superseded, `fenced` of them skipped by the store as not newer. */
  batchDone(ops: number, fenced: number, durationMs: number): void
  /** A store call failed, or some of its ops did; `retryInMs` when it is retried after a backoff. */
  batchFailed(ops: number, error: Error, attempt: number, retryInMs: number | undefined): void
  /** A hook itself failed (the dead-letter queue could not be written): the ops are held and retried. */
  internalError(error: Error): void
  /** Global order: `op` failed for good and is held instead of dead-lettered; flushing stops at it. Once per op. */
  halted?(op: PendingOp, error: Error): void
  /**
   * `ops` failed (their `attempts` counted) and are tried again no sooner than `delayMs` from now.
   * A tier shared by several processes records both where another worker finds them if this one
   * dies (the Redis tier). Awaited before the backoff starts; a rejection is reported through
   * `internalError` and changes nothing else.
   */
  retrying?(ops: readonly PendingOp[], delayMs: number): Promise<void>
}

export interface FlusherOptions extends RetryPolicy {
  /** A `writeBatch` call that has not settled after this long fails (retryable). */
  batchTimeoutMs: number
  /** `'global'`: nothing lands past a held op, and poison halts instead of being dead-lettered. @default 'key' */
  order?: 'key' | 'global'
  /** The cache's name, for the store-batch trace. @default 'default' */
  name?: string
}

/** What the flusher counted since open (read by `stats()`; only the flusher changes it). */
export interface FlushCounts {
  /** Store calls that returned. */
  batches: number
  /** Ops the store took: applied, or fenced as not newer. */
  ops: number
  fenced: number
  superseded: number
  failedBatches: number
  /** Backoffs slept (failed batches retried, held flights retried). */
  retries: number
}
