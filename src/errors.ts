/**
 * Every error writebehind throws on purpose. Each class has a stable, typed `code`; callers match
 * on the class or the code, never on the message, which says what to do about it. `ErrorCode` is
 * every code, and `errors` maps each code to its class. The README's error table lists them all.
 */

/** Every code a writebehind error carries (a `StoreError` may also carry its store's own). */
export type ErrorCode =
  | 'E_INVALID_OPTION'
  | 'E_INVALID_KEY'
  | 'E_INVALID_VALUE'
  | 'E_UNENCODABLE_VALUE'
  | 'E_BACKLOG_FULL'
  | 'E_VERSION_EXHAUSTED'
  | 'E_STORE_UNAVAILABLE'
  | StoreErrorCode
  | 'E_DEAD_LETTERED'
  | 'E_SUPERSEDED'
  | 'E_FLUSH_TIMEOUT'
  | 'E_FLUSH_ABORTED'
  | 'E_CLOSED'
  | 'E_DIR_LOCKED'
  | 'E_DIR_INVALID'
  | 'E_LOG_CORRUPT'
  | 'E_LOG_FORMAT'
  | 'E_LOG_FAILED'
  | 'E_UPDATE_CONFLICT'
  | 'E_NOT_A_NUMBER'
  | 'E_PEER_MISSING'
  | 'E_METRICS_DUPLICATE'
  | 'E_METRICS_CONFLICT'
  | 'E_REPLICATION_NOT_CONFIRMED'
  | 'E_REDIS_CONFIG'
  | 'E_REDIS_UNAVAILABLE'
  | 'E_REDIS_CLUSTER'
  | 'E_WRITE_LOST'

/** The codes of the `StoreError`s writebehind raises itself. */
export type StoreErrorCode = 'E_STORE' | 'E_BATCH_TIMEOUT' | 'E_STORE_MAPPING' | 'E_STORE_NOT_A_NUMBER'

export interface ErrorDetails {
  cause?: unknown
}

/** Base class: `code` is stable across versions; `name` is the class's name. */
export class WriteBehindError<C extends string = ErrorCode> extends Error {
  readonly code: C
  constructor(code: C, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.code = code
  }
}

/**
 * A bad option or argument, named by `option`: the wrong type or range, a name that is not an
 * option (the message suggests the one meant), or options that cannot go together. Thrown at the
 * door, before anything happens. A `TypeError` (and its `name` stays `TypeError`, as with Node's
 * own coded errors), so it is the one class here that is not a `WriteBehindError`.
 */
export class InvalidOptionError extends TypeError {
  readonly code = 'E_INVALID_OPTION'
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message)
  }
}

/** A key that is not a non-empty string, or is longer than `maxKeyBytes`. */
export class InvalidKeyError extends WriteBehindError<'E_INVALID_KEY'> {
  constructor(
    readonly key: unknown,
    reason: string,
  ) {
    super('E_INVALID_KEY', `Invalid key: ${reason}. Keys are non-empty strings within maxKeyBytes.`)
  }
}

/** A value the codec cannot encode, or one larger than `maxValueBytes`. */
export class InvalidValueError extends WriteBehindError<'E_INVALID_VALUE'> {
  constructor(
    readonly key: string,
    reason: string,
    details: ErrorDetails = {},
  ) {
    super(
      'E_INVALID_VALUE',
      `Cannot store the value for key "${truncate(key)}": ${reason}. ` +
        'Pass plain JSON data (objects, arrays, strings, finite numbers, booleans, null), or configure a codec that supports this type.',
      details,
    )
  }
}

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

/** Another process (or another cache in this one: `inThisProcess`) holds the log directory. */
export class DirectoryLockedError extends WriteBehindError<'E_DIR_LOCKED'> {
  constructor(
    readonly dir: string,
    readonly pid: number | undefined,
    readonly inThisProcess = false,
  ) {
    super(
      'E_DIR_LOCKED',
      inThisProcess
        ? `The directory ${dir} is already open in this process (pid ${pid}): close the cache or log that holds it before opening it again, or give each its own dir.`
        : `The directory ${dir} is in use by another writebehind process${pid === undefined ? '' : ` (pid ${pid})`}. ` +
            'Each dir takes one writer: give each process its own dir, or stop the other process.',
    )
  }
}

/**
 * A `dir` that cannot hold a log: `reason` says why (`not-a-directory`: it, or a parent, is a
 * file; `not-writable`; `unsafe`: others may write to it). The message says what to do.
 */
export class InvalidDirectoryError extends WriteBehindError<'E_DIR_INVALID'> {
  constructor(
    readonly dir: string,
    readonly reason: 'not-a-directory' | 'not-writable' | 'unsafe',
    message: string,
    details: ErrorDetails = {},
  ) {
    super('E_DIR_INVALID', message, details)
  }
}

/**
 * Damage in the dir: a record of the dirty log that fails its checksum or framing (not at the
 * tail), a missing segment, or a bad line of the dead-letter file. `remedy` is what applies.
 */
export class LogCorruptionError extends WriteBehindError<'E_LOG_CORRUPT'> {
  constructor(
    readonly segment: string,
    readonly offset: number,
    readonly reason: string,
    readonly remedy = 'Run `writebehind verify <dir>` to list the damage; to drop the bad record and everything after it, open with recovery: "truncate".',
  ) {
    super('E_LOG_CORRUPT', `The dirty log is corrupt in ${segment} at offset ${offset}: ${reason}. ${remedy}`)
  }
}

/** Something on disk that writebehind cannot read (unknown format version, bad checkpoint, a directory where a file belongs). */
export class LogFormatError extends WriteBehindError<'E_LOG_FORMAT'> {
  constructor(
    readonly file: string,
    readonly reason: string,
    readonly remedy?: string,
  ) {
    super('E_LOG_FORMAT', `Cannot read ${file}: ${reason}.${remedy === undefined ? '' : ` ${remedy}`}`)
  }
}

/** A write or fsync of the dirty log failed; the log accepts nothing more (a failed fsync cannot be retried safely). */
export class LogFailedError extends WriteBehindError<'E_LOG_FAILED'> {
  constructor(cause: unknown) {
    super(
      'E_LOG_FAILED',
      `The dirty log could not write or fsync: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        'Writes can no longer be made durable: fix the disk (space, permissions, I/O errors), then close and reopen the cache; the records already on disk are recovered.',
      { cause },
    )
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

/**
 * Thrown by `strictJson.encode` for a value JSON would not give back as it is: `path` is where in
 * the value (`$.a[2]`), `reason` what is wrong and what to store instead. The cache wraps it in an
 * `InvalidValueError` (its `cause`); you meet it as it is only when you call the codec yourself.
 */
export class UnencodableValueError extends WriteBehindError<'E_UNENCODABLE_VALUE'> {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super('E_UNENCODABLE_VALUE', `${reason} at ${path}`)
  }
}

/**
 * `update(key, fn)` found the key written by another call (a `set`, `delete` or `setMany`) while
 * its `fn` or read-through was awaited, on every one of its `attempts`; nothing was written.
 */
export class UpdateConflictError extends WriteBehindError<'E_UPDATE_CONFLICT'> {
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(
      'E_UPDATE_CONFLICT',
      `update("${truncate(key)}") gave up after ${attempts} attempts: each time, another write of the key landed while its function ran, so nothing was written. ` +
        "Route the key's writes through update(), make the function faster, or retry the update.",
    )
  }
}

/**
 * `increment`, `max` or `min` on a key whose value is not a number (a missing or deleted key is
 * fine: it starts from the operand), or an increment whose result would not be a finite number.
 * Nothing was written.
 */
export class NotANumberError extends WriteBehindError<'E_NOT_A_NUMBER'> {
  constructor(
    readonly key: string,
    readonly merge: 'sum' | 'max' | 'min',
    readonly found: string,
  ) {
    const operation = merge === 'sum' ? 'increment' : merge
    super(
      'E_NOT_A_NUMBER',
      `Cannot ${operation} "${truncate(key)}": it holds ${found}, not a finite number. ` +
        `${operation}() works on a key holding a number (or none): keep counters under keys of their own, or set() a number first.`,
    )
  }
}

/**
 * An optional peer package a feature needs is not installed (`peer` names it): `prom-client` for
 * `registerPrometheus`, `@opentelemetry/api` for `registerOpenTelemetry` without a `meterProvider`.
 */
export class PeerMissingError extends WriteBehindError<'E_PEER_MISSING'> {
  constructor(
    readonly peer: string,
    readonly feature: string,
    details: ErrorDetails = {},
  ) {
    super('E_PEER_MISSING', `${feature} needs the ${peer} package, which is not installed: npm install ${peer}.`, details)
  }
}

/**
 * A metrics adapter could not register a cache: `E_METRICS_DUPLICATE` when a cache of this `name`
 * is already registered on this registry (the same cache twice, or two caches sharing a name, whose
 * messages could not be told apart); `E_METRICS_CONFLICT` when the registry already holds a metric
 * of one of its names that it did not make, or made with other label names (`metric` names it).
 */
export class MetricsRegistrationError extends WriteBehindError<'E_METRICS_DUPLICATE' | 'E_METRICS_CONFLICT'> {
  constructor(
    code: 'E_METRICS_DUPLICATE' | 'E_METRICS_CONFLICT',
    readonly cache: string,
    readonly metric?: string,
  ) {
    super(
      code,
      code === 'E_METRICS_DUPLICATE'
        ? `A cache named "${cache}" is already registered on this registry. Give each cache its own name (option name), or unregister the first one.`
        : `The registry already holds a metric "${metric ?? ''}" that writebehind did not make, or made with other label names. ` +
            'Use another prefix, remove that metric, or give every cache on this registry the same label names.',
    )
  }
}

/**
 * Durability `replicated` on a Redis tier: the write WAS applied on the primary (it is served and
 * will be flushed), but fewer replicas than `replicas` acknowledged it within `replicaTimeoutMs`
 * (with `replicaWait: 'waitaof'`: fsynced it, or the primary did not fsync it: `primaryFsynced`).
 * It is not confirmed to survive the loss of the primary. Not a failed write: do not write it again
 * because of this error, alert on it.
 */
export class ReplicationNotConfirmedError extends WriteBehindError<'E_REPLICATION_NOT_CONFIRMED'> {
  readonly applied = true
  constructor(
    readonly key: string,
    readonly version: number,
    readonly replicas: number,
    readonly wanted: number,
    /** `replicaWait: 'waitaof'` only: whether the primary fsynced it to its append-only file in time. */
    readonly primaryFsynced?: boolean,
  ) {
    super(
      'E_REPLICATION_NOT_CONFIRMED',
      `The write to "${truncate(key)}" (version ${version}) was applied on the Redis primary, but ${replicas} of the ${wanted} replicas it waited for acknowledged it` +
        (primaryFsynced === false ? ' and the primary did not fsync it to its append-only file in time: ' : ': ') +
        'it is not confirmed to survive a failover. It is not lost and need not be written again; check the replicas (INFO replication), or lower replicas / raise replicaTimeoutMs.',
    )
  }
}

/**
 * A Redis tier lost its connection (or the client gave up reconnecting, ioredis's
 * `maxRetriesPerRequest`) before Redis answered a write. Whether it applied is unknown: a write
 * still waiting in the client's offline queue did not, but one already sent when the connection
 * dropped may have been applied (and kept by the AOF). `applied` is `'unknown'`. Writing it again
 * is safe (the newer version wins with the same value); reading the key back tells.
 */
export class RedisUnavailableError extends WriteBehindError<'E_REDIS_UNAVAILABLE'> {
  readonly applied = 'unknown'
  constructor(
    readonly key: string,
    options: { cause: unknown },
  ) {
    super(
      'E_REDIS_UNAVAILABLE',
      `The write to "${truncate(key)}" got no answer from Redis (${options.cause instanceof Error ? options.cause.message : String(options.cause)}): it may or may not have been applied. ` +
        "Write it again once Redis is back (the newer version wins), or read the key to see; check the Redis server and the client's reconnect settings.",
      options,
    )
  }
}

/**
 * A Redis tier refused to start on a server or name set up so that it could lose or misread dirty
 * data: a `maxmemory-policy` of `allkeys-*` (Redis would evict unflushed writes), or a name
 * created with another shard count or layout format; or a setting the server cannot honour
 * (`replicaWait: 'waitaof'` without WAITAOF or without appendonly). `setting` names what to change.
 */
export class RedisConfigError extends WriteBehindError<'E_REDIS_CONFIG'> {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super('E_REDIS_CONFIG', message)
  }
}

/**
 * A Redis Cluster could not run a command of the tier, and the command did not run: the cluster is
 * down or does not serve the key's slot (`CLUSTERDOWN`), or the slot stayed mid-migration
 * (`TRYAGAIN`) or kept moving (`MOVED`/`ASK`) past the retries. `reply` names which. A write that
 * fails so was not applied: write it again once the cluster is back; flushes retry on their own.
 */
export class RedisClusterError extends WriteBehindError<'E_REDIS_CLUSTER'> {
  readonly applied = false
  constructor(
    readonly reply: 'CLUSTERDOWN' | 'TRYAGAIN' | 'MOVED' | 'ASK',
    cause: Error,
  ) {
    super('E_REDIS_CLUSTER', `The Redis Cluster did not run the command (${reply}): ${cause.message}. Nothing was applied; try again once the cluster is ok (CLUSTER INFO shows cluster_state:ok).`, {
      cause,
    })
  }
}

/**
 * A write at durability `store` on a Redis tier was applied on the Redis primary, then lost in a
 * failover (or a Redis restart that lost its tail) before it reached the store: Redis now holds
 * the key at an older version or not at all, and the store does not hold this version either.
 * Nothing will flush it. The store's value (if any) is what readers now see.
 */
export class WriteLostError extends WriteBehindError<'E_WRITE_LOST'> {
  constructor(
    readonly key: string,
    readonly version: number,
  ) {
    super(
      'E_WRITE_LOST',
      `The write to "${truncate(key)}" (version ${version}) was applied on the Redis primary, but lost in a failover before it reached the store; it is not in the store. ` +
        'Write it again if it should still apply; use durability replicated for writes that must survive a failover before they are flushed.',
    )
  }
}

/**
 * Each code and the class of the errors that carry it: `error instanceof errors[code]` holds for
 * every error whose `code` is `code`. A code maps to one class; a class may carry several codes.
 */
export const errors = Object.freeze({
  E_INVALID_OPTION: InvalidOptionError,
  E_INVALID_KEY: InvalidKeyError,
  E_INVALID_VALUE: InvalidValueError,
  E_UNENCODABLE_VALUE: UnencodableValueError,
  E_BACKLOG_FULL: BacklogFullError,
  E_VERSION_EXHAUSTED: VersionExhaustedError,
  E_STORE_UNAVAILABLE: StoreUnavailableError,
  E_STORE: StoreError,
  E_BATCH_TIMEOUT: StoreError,
  E_STORE_MAPPING: StoreError,
  E_STORE_NOT_A_NUMBER: StoreError,
  E_DEAD_LETTERED: DeadLetteredError,
  E_SUPERSEDED: WriteSupersededError,
  E_FLUSH_TIMEOUT: FlushTimeoutError,
  E_FLUSH_ABORTED: FlushTimeoutError,
  E_CLOSED: CacheClosedError,
  E_DIR_LOCKED: DirectoryLockedError,
  E_DIR_INVALID: InvalidDirectoryError,
  E_LOG_CORRUPT: LogCorruptionError,
  E_LOG_FORMAT: LogFormatError,
  E_LOG_FAILED: LogFailedError,
  E_UPDATE_CONFLICT: UpdateConflictError,
  E_NOT_A_NUMBER: NotANumberError,
  E_PEER_MISSING: PeerMissingError,
  E_METRICS_DUPLICATE: MetricsRegistrationError,
  E_METRICS_CONFLICT: MetricsRegistrationError,
  E_REPLICATION_NOT_CONFIRMED: ReplicationNotConfirmedError,
  E_REDIS_CONFIG: RedisConfigError,
  E_REDIS_UNAVAILABLE: RedisUnavailableError,
  E_REDIS_CLUSTER: RedisClusterError,
  E_WRITE_LOST: WriteLostError,
} as const satisfies { readonly [C in ErrorCode]: abstract new (...args: never[]) => Error & { readonly code: string } })

function truncate(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key
}
