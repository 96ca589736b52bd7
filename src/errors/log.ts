/** Errors of the dirty log and its directory. */
import { WriteBehindError, type ErrorDetails } from './base.js'

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
