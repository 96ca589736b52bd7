/**
 * Every error writebehind throws on purpose. Each class has a stable, typed `code`; callers match
 * on the class or the code, never on the message, which says what to do about it. `ErrorCode` is
 * every code, and `errors` maps each code to its class. The README's error table lists them all.
 */
import { BacklogFullError, CacheClosedError, DeadLetteredError, FlushTimeoutError, StoreError, StoreUnavailableError, VersionExhaustedError, WriteSupersededError } from './errors/flush.js'
import { InvalidKeyError, InvalidOptionError, InvalidValueError, NotANumberError, UnencodableValueError, UpdateConflictError } from './errors/input.js'
import { DirectoryLockedError, InvalidDirectoryError, LogCorruptionError, LogFailedError, LogFormatError } from './errors/log.js'
import { MetricsRegistrationError, PeerMissingError } from './errors/metrics.js'
import { RedisClusterError, RedisConfigError, RedisUnavailableError, ReplicationNotConfirmedError, WriteLostError } from './errors/redis.js'
import type { ErrorCode } from './errors/base.js'

export { WriteBehindError, type ErrorCode, type ErrorDetails, type StoreErrorCode } from './errors/base.js'
export { BacklogFullError, CacheClosedError, DeadLetteredError, FlushTimeoutError, StoreError, StoreUnavailableError, VersionExhaustedError, WriteSupersededError } from './errors/flush.js'
export { InvalidKeyError, InvalidOptionError, InvalidValueError, NotANumberError, UnencodableValueError, UpdateConflictError } from './errors/input.js'
export { DirectoryLockedError, InvalidDirectoryError, LogCorruptionError, LogFailedError, LogFormatError } from './errors/log.js'
export { MetricsRegistrationError, PeerMissingError } from './errors/metrics.js'
export { RedisClusterError, RedisConfigError, RedisUnavailableError, ReplicationNotConfirmedError, WriteLostError, type RedisOperation } from './errors/redis.js'

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
