/** Errors of the Redis tier (`writebehind/redis`). */
import { WriteBehindError, truncate } from './base.js'

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

/** What a cache on a Redis tier was doing when Redis did not answer (`RedisUnavailableError.operation`). */
export type RedisOperation = 'write' | 'read' | 'flush' | 'open' | 'deadLetters'

/**
 * A Redis tier lost its connection (or the client gave up reconnecting, ioredis's
 * `maxRetriesPerRequest`), or Redis did not answer within the tier's `commandTimeoutMs` (a paused
 * or partitioned server: the cause is then a `RedisTimeoutError`). `operation` says what was asked:
 *
 * - `'write'` (`set`, `delete`, `setMany`, `update`, counters…): whether it applied is unknown, and
 *   `applied` is `'unknown'`: a write still waiting in the client's offline queue did not, but one
 *   already sent when the connection dropped may have been applied (and kept by the AOF). Writing
 *   it again is safe (the newer version wins with the same value); reading the key back tells.
 * - `'read'` (`get`, `has`, `getMany`) and `'flush'` (`flush()`, which waits for writes already
 *   made): nothing of the caller's was to be written, so `applied` is undefined. Nothing was lost
 *   either: call it again once Redis is back.
 * - `'open'` (`WriteBehindCache.open` on the tier): the cache did not open; nothing was written.
 * - `'deadLetters'` (`replayDeadLetters`, `dropDeadLetters`): some letters may have been put back
 *   or dropped (`applied: 'unknown'`); calling it again is safe (it acts on the letters left).
 *
 * `key` is the key of a write or of a one-key read; undefined for `getMany` and `flush()`.
 */
export class RedisUnavailableError extends WriteBehindError<'E_REDIS_UNAVAILABLE'> {
  readonly applied: 'unknown' | undefined
  readonly operation: RedisOperation
  constructor(
    readonly key: string | undefined,
    options: { cause: unknown; operation?: RedisOperation },
  ) {
    const operation = options.operation ?? 'write'
    const why = options.cause instanceof Error ? options.cause.message : String(options.cause)
    super('E_REDIS_UNAVAILABLE', `${unanswered(operation, key)} got no answer from Redis (${why}): ${ADVICE[operation]}`, { cause: options.cause })
    this.operation = operation
    this.applied = operation === 'write' || operation === 'deadLetters' ? 'unknown' : undefined
  }
}

const ADVICE: Record<RedisOperation, string> = {
  write: "it may or may not have been applied. Write it again once Redis is back (the newer version wins), or read the key to see; check the Redis server and the client's reconnect settings.",
  read: "nothing was written. Read again once Redis is back; check the Redis server and the client's reconnect settings.",
  flush: "nothing was lost: the writes stay dirty in Redis and are flushed once it is back. Call flush() again then; check the Redis server and the client's reconnect settings.",
  open: "the cache did not open and nothing was written. Open it again once Redis answers; check the Redis server and the client's connection settings.",
  deadLetters: "some letters may have been put back or dropped. Call it again once Redis is back (it acts on the letters left); check the Redis server and the client's reconnect settings.",
}

function unanswered(operation: RedisOperation, key: string | undefined): string {
  if (operation === 'flush') return 'flush()'
  if (operation === 'open') return 'Opening the cache'
  if (operation === 'deadLetters') return 'The dead-letter operation'
  const subject = key === undefined ? 'keys' : `"${truncate(key)}"`
  return operation === 'write' ? `The write to ${subject}` : `The read of ${subject}`
}

/**
 * A Redis tier refused to start on a server or name set up so that it could lose or misread dirty
 * data: a `maxmemory-policy` of `allkeys-*` (Redis would evict unflushed writes), or a name
 * created with another shard count or layout format; or a setting the server cannot honour
 * (`replicaWait: 'waitaof'` without WAITAOF or without appendonly); or a client connected to a
 * replica instead of the primary (`role`). `setting` names what to change.
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
