/** Errors of the write and flush path: backpressure, versions, the store, dead letters, closing. */
import { WriteBehindError, truncate, type ErrorDetails, type StoreErrorCode } from './base.js'

/**
 * The backlog of unflushed writes is at its cap and `backlog.whenFull` is `reject`; or, with
 * `whenFull: 'wait'`, as many writes as `backlog.maxWaiting` (or `backlog.maxBytes` of them)
 * already wait for room (`waiting` is then how many).
 */
export class BacklogFullError extends WriteBehindError<'E_BACKLOG_FULL'> {
  constructor(
    readonly entries: number,
    readonly bytes: number,
    readonly waiting?: number,
  ) {
    super(
      'E_BACKLOG_FULL',
      waiting === undefined
        ? `The write-behind backlog is full (${entries} entries, ${bytes} bytes unflushed). ` + 'The store is not keeping up: retry later, raise backlog.maxEntries/maxBytes, or use whenFull: "wait".'
        : `The write-behind backlog is full (${entries} entries, ${bytes} bytes unflushed) and ${waiting} writes already wait for room (backlog.maxWaiting, backlog.maxBytes). ` +
            'The store is not keeping up and writers are not waiting for their writes: await them (or limit concurrency), retry later, or raise backlog.maxWaiting.',
    )
  }
}

/** Write versions reached `Number.MAX_SAFE_INTEGER`: no later write can be given a version. */
export class VersionExhaustedError extends WriteBehindError<'E_VERSION_EXHAUSTED'> {
  constructor(readonly version: number) {
    super(
      'E_VERSION_EXHAUSTED',
      `Write versions reached ${version}, the largest safe integer, so this write cannot be versioned. ` +
        "Something raised them that far (versions read from the store or the log's checkpoint high-water mark): find and fix those rows or that checkpoint, then reopen.",
    )
  }
}

/** A write-through (durability `store`, or `whenFull: 'store'`) while the store is failing. */
export class StoreUnavailableError extends WriteBehindError<'E_STORE_UNAVAILABLE'> {
  constructor(reason: string, details: ErrorDetails = {}) {
    super('E_STORE_UNAVAILABLE', `The store is unavailable: ${reason}. Retry when it is back.`, details)
  }
}

/**
 * An error raised by a store. `retryable: false` means retrying cannot help (bad data, constraint
 * violation): the op goes to the dead-letter queue at once.
 *
 * `scope` says what the failure hits: `store` when it hits every write alike (the server is down,
 * a wrong password, a missing database, table or column, a missing privilege, a read-only
 * database, a missing driver package): such an error is retryable, opens the circuit and keeps the
 * writes until the cause is fixed; `op` when it is about the data of this batch or op (a
 * constraint violation, a bad value): only those ops are isolated and dead-lettered. Defaults to
 * `store` when retryable, else `op`.
 *
 * `code` is `E_STORE` unless the store passes its own; writebehind's own stores also raise
 * `E_BATCH_TIMEOUT` (a `writeBatch` call that did not settle within `flush.batchTimeoutMs`),
 * `E_STORE_MAPPING` (a write the table mapping cannot turn into a row) and `E_STORE_NOT_A_NUMBER`
 * (a merge op on a key whose stored value is not a number).
 */
export class StoreError extends WriteBehindError<StoreErrorCode | (string & {})> {
  readonly retryable: boolean
  readonly scope: 'store' | 'op'
  constructor(message: string, options: { retryable: boolean; cause?: unknown; code?: string; scope?: 'store' | 'op' }) {
    super(options.code ?? 'E_STORE', message, { cause: options.cause })
    this.retryable = options.retryable
    this.scope = options.scope ?? (options.retryable ? 'store' : 'op')
  }
}

/** A write that ended in the dead-letter queue (its promise, at durability `store`, rejects). */
export class DeadLetteredError extends WriteBehindError<'E_DEAD_LETTERED'> {
  constructor(
    readonly key: string,
    readonly version: number,
    cause: unknown,
  ) {
    super(
      'E_DEAD_LETTERED',
      `The write to "${truncate(key)}" (version ${version}) could not be flushed and is in the dead-letter queue. ` +
        'Inspect it with cache.deadLetters() or `writebehind dlq list`, fix the cause, then replay it.',
      { cause },
    )
  }
}

/** An operation on a cache that is closing or closed. */
export class CacheClosedError extends WriteBehindError<'E_CLOSED'> {
  constructor(operation: string) {
    super('E_CLOSED', `Cannot ${operation}: the cache is closed or closing. Open a new cache.`)
  }
}

/**
 * A write the store refused because it already holds a strictly newer version of the key (written
 * by another writer, or by a cache whose versions fell behind). The write is not in the store and
 * the cache stops serving it; a write at durability `store` that waited for it rejects with this.
 */
export class WriteSupersededError extends WriteBehindError<'E_SUPERSEDED'> {
  constructor(
    readonly key: string,
    readonly version: number,
    readonly storeVersion: number,
  ) {
    super(
      'E_SUPERSEDED',
      `The write to "${truncate(key)}" (version ${version}) was not applied: the store holds a newer version (${storeVersion}). ` +
        'Read the key again (cache.get reads the store) and write again if your value should win.',
    )
  }
}

/** `flush({ timeoutMs })` ran out of time, or its `signal` aborted. Nothing is lost: flushing goes on. */
export class FlushTimeoutError extends WriteBehindError<'E_FLUSH_TIMEOUT' | 'E_FLUSH_ABORTED'> {
  constructor(
    reason: 'timeout' | 'abort',
    readonly unflushed: number,
    details: ErrorDetails = {},
  ) {
    super(
      reason === 'timeout' ? 'E_FLUSH_TIMEOUT' : 'E_FLUSH_ABORTED',
      `flush() ${reason === 'timeout' ? 'timed out' : 'was aborted'} with ${unflushed} writes not yet in the store. ` +
        'Nothing is lost: they stay in the backlog (and the log) and keep flushing; see cache.stats() for why the store is slow or failing.',
      details,
    )
  }
}
