/**
 * Validation at the door for the dirty log: options with their defaults, and the records passed
 * to `append`. A bad value throws an `InvalidOptionError` (a `TypeError`) naming it.
 */
import { systemClock, type Clock } from '../contracts/clock.js'
import { DEFAULTS } from '../contracts/defaults.js'
import { InvalidOptionError } from '../errors.js'
import { checkFunction, checkNumber, checkString, invalid, oneOf } from '../validate/check.js'
import { MAX_BODY_BYTES } from './record.js'
import type { DirtyLogOptions, LogEvent, LogRecord } from './types.js'

export interface ResolvedLogOptions {
  readonly dir: string
  readonly segmentBytes: number
  readonly syncIntervalMs: number | undefined
  readonly recovery: 'strict' | 'truncate'
  readonly clock: Clock
  readonly emit: (e: LogEvent) => void
  readonly onFsync: (durationMs: number) => void
  readonly writeScheduling: 'microtask' | 'immediate'
  readonly writeThresholdBytes: number
  readonly warn: (code: string, message: string) => void
}

const MIB = 1024 * 1024
/** Key + value bytes a record may hold: the reader treats a larger body as damage. */
const MAX_RECORD_BYTES = MAX_BODY_BYTES - 13

export function resolveLogOptions(options: DirtyLogOptions): ResolvedLogOptions {
  if (typeof options !== 'object' || options === null) throw invalid('DirtyLog options', 'an object such as { dir }', options)
  const { clock = systemClock, onEvent, warn = defaultWarn } = options
  if (typeof clock?.setTimeout !== 'function') throw invalid('options.clock', 'a Clock (now, setTimeout, clearTimeout)', clock)
  return {
    dir: checkString(options.dir, 'options.dir', { required: true }),
    segmentBytes: checkNumber(options.segmentBytes, 'options.segmentBytes', { min: 64, integer: true }) ?? DEFAULTS.segmentBytes,
    syncIntervalMs: checkNumber(options.syncIntervalMs, 'options.syncIntervalMs', { above: 0, finite: true }) ?? DEFAULTS.syncIntervalMs,
    recovery: oneOf(options.recovery, 'options.recovery', ['strict', 'truncate'] as const) ?? DEFAULTS.recovery,
    clock,
    emit: safeEmitter(checkFunction(onEvent, 'options.onEvent')),
    onFsync: safeTimer(checkFunction(options.onFsync, 'options.onFsync')),
    writeScheduling: oneOf(options.writeScheduling, 'options.writeScheduling', ['microtask', 'immediate'] as const) ?? DEFAULTS.logWriteScheduling,
    writeThresholdBytes: checkNumber(options.writeThresholdBytes, 'options.writeThresholdBytes', { min: 1, integer: true }) ?? MIB,
    warn: checkFunction(warn, 'options.warn') ?? defaultWarn,
  }
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

/** Like `safeEmitter`, for the fsync timer; a no-op when there is none. */
function safeTimer(onFsync: ((durationMs: number) => void) | undefined): (durationMs: number) => void {
  if (onFsync === undefined) return () => {}
  return (durationMs) => {
    try {
      onFsync(durationMs)
    } catch {
      // the listener's bug is its own
    }
  }
}

/** Throws a `TypeError` naming the bad field of a record about to be appended after `lastVersion`. */
export function checkRecord(record: LogRecord, lastVersion: number): void {
  const { kind, key, version, encoded } = record
  if (typeof key !== 'string') throw invalid('record.key', 'a string', key)
  if (!Number.isSafeInteger(version) || version <= lastVersion) {
    throw invalid('record.version', `a whole number above the last appended version ${lastVersion}`, version)
  }
  if (kind === 'set' || kind === 'merge') {
    if (typeof encoded !== 'string') throw invalid('record.encoded', `a string for a ${kind}`, encoded)
  } else if (kind === 'delete' || kind === 'seal') {
    if (encoded !== null) throw invalid('record.encoded', `null for a ${kind}`, encoded)
  } else {
    throw invalid('record.kind', "'set', 'delete', 'merge' or 'seal'", kind)
  }
  if (kind === 'merge') {
    if (!['sum', 'max', 'min'].includes(record.merge)) throw invalid('record.merge', "'sum', 'max' or 'min'", record.merge)
    if (!Number.isFinite(record.operand)) throw invalid('record.operand', 'a finite number', record.operand)
  }
  if (kind === 'seal' && !(Number.isSafeInteger(record.sealed) && record.sealed >= 1 && record.sealed < version)) {
    throw invalid('record.sealed', `a whole number >= 1 below the seal's version ${version}`, record.sealed)
  }
  // Exact UTF-8 size only when the cheap bound (3 bytes per UTF-16 unit) says it could matter.
  if (3 * (key.length + (encoded?.length ?? 0)) > MAX_RECORD_BYTES && Buffer.byteLength(key) + Buffer.byteLength(encoded ?? '') > MAX_RECORD_BYTES) {
    throw new InvalidOptionError('record', `record is larger than the log's ${MAX_RECORD_BYTES}-byte limit for key + value`)
  }
}
