/** The base of every writebehind error: the code union, `WriteBehindError`, and a helper for messages. */
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

/** A key short enough for a message. @internal */
export function truncate(key: string): string {
  return key.length > 64 ? `${key.slice(0, 61)}...` : key
}
