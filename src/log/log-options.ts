/**
 * Validation at the door for the dirty log: options with their defaults, and the records passed
 * to `append`. A bad value throws a `TypeError` naming it.
 */
import { systemClock, type Clock } from '../contracts/clock.js'
import { DEFAULTS } from '../contracts/defaults.js'
import { MAX_BODY_BYTES } from './record.js'
import type { DirtyLogOptions, LogEvent, LogRecord } from './types.js'

export interface ResolvedLogOptions {
  readonly dir: string
  readonly segmentBytes: number
  readonly syncIntervalMs: number | undefined
  readonly recovery: 'strict' | 'truncate'
  readonly clock: Clock
  readonly emit: (e: LogEvent) => void
  readonly writeScheduling: 'microtask' | 'immediate'
  readonly writeThresholdBytes: number
  readonly warn: (code: string, message: string) => void
}

const MIB = 1024 * 1024
/** Key + value bytes a record may hold: the reader treats a larger body as damage. */
const MAX_RECORD_BYTES = MAX_BODY_BYTES - 13

export function resolveLogOptions(options: DirtyLogOptions): ResolvedLogOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('DirtyLog options must be an object')
  const { dir, segmentBytes = DEFAULTS.segmentBytes, syncIntervalMs = DEFAULTS.syncIntervalMs, recovery = DEFAULTS.recovery, clock = systemClock, onEvent } = options
  const { writeScheduling = DEFAULTS.logWriteScheduling, writeThresholdBytes = MIB, warn = defaultWarn } = options
  if (typeof dir !== 'string' || dir === '') throw new TypeError('options.dir must be a non-empty path string')
  if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 64) throw new TypeError('options.segmentBytes must be an integer ≥ 64')
  if (syncIntervalMs !== undefined && !(Number.isFinite(syncIntervalMs) && syncIntervalMs > 0)) {
    throw new TypeError('options.syncIntervalMs must be a positive number of milliseconds, or undefined')
  }
  if (recovery !== 'strict' && recovery !== 'truncate') throw new TypeError("options.recovery must be 'strict' or 'truncate'")
  if (typeof clock?.setTimeout !== 'function') throw new TypeError('options.clock must implement the Clock contract')
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new TypeError('options.onEvent must be a function')
  if (typeof warn !== 'function') throw new TypeError('options.warn must be a function')
  if (writeScheduling !== 'microtask' && writeScheduling !== 'immediate') {
    throw new TypeError("options.writeScheduling must be 'microtask' or 'immediate'")
  }
  if (!Number.isSafeInteger(writeThresholdBytes) || writeThresholdBytes < 1) throw new TypeError('options.writeThresholdBytes must be a positive integer')
  return { dir, segmentBytes, syncIntervalMs, recovery, clock, emit: safeEmitter(onEvent), writeScheduling, writeThresholdBytes, warn }
}

function defaultWarn(code: string, message: string): void {
  process.emitWarning(message, { code })
}

/** A listener's exception must not break the log (it would abort a write or recovery midway). */
function safeEmitter(onEvent: ((e: LogEvent) => void) | undefined): (e: LogEvent) => void {
  return (e) => {
    try {
      onEvent?.(e)
    } catch {
      // the listener's bug is its own; the log's state is already consistent
    }
  }
}

/** Throws a `TypeError` naming the bad field of a record about to be appended after `lastVersion`. */
export function checkRecord(record: LogRecord, lastVersion: number): void {
  const { kind, key, version, encoded } = record
  if (typeof key !== 'string') throw new TypeError('record.key must be a string')
  if (!Number.isSafeInteger(version) || version <= lastVersion) {
    throw new TypeError(`record.version must be a safe integer above the last appended version ${lastVersion}; got ${String(version)}`)
  }
  if (kind === 'set') {
    if (typeof encoded !== 'string') throw new TypeError('record.encoded must be a string for a set')
  } else if (kind === 'delete') {
    if (encoded !== null) throw new TypeError('record.encoded must be null for a delete')
  } else {
    throw new TypeError(`record.kind must be 'set' or 'delete'; got ${String(kind)}`)
  }
  // Exact UTF-8 size only when the cheap bound (3 bytes per UTF-16 unit) says it could matter.
  if (3 * (key.length + (encoded?.length ?? 0)) > MAX_RECORD_BYTES && Buffer.byteLength(key) + Buffer.byteLength(encoded ?? '') > MAX_RECORD_BYTES) {
    throw new TypeError(`record is larger than the log's ${MAX_RECORD_BYTES}-byte limit for key + value`)
  }
}
