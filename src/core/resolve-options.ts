/**
 * Turns user options into `ResolvedOptions`: defaults filled in, every value checked. A bad option
 * throws a `TypeError` that names it; a legal but risky one warns once with a code.
 */
import { systemClock } from '../contracts/clock.js'
import { strictJson } from './json-codec.js'
import { checkOptionNames, oneOf } from './option-names.js'
import type { Clock } from '../contracts/clock.js'
import type { Codec } from '../contracts/codec.js'
import { DEFAULTS } from '../contracts/defaults.js'
import { DURABILITIES, type AlertOptions, type BacklogOptions, type CacheOptions, type Durability, type FlushOptions, type MemoryOptions, type RetryOptions } from '../contracts/options.js'
import type { Store } from '../contracts/store.js'

/** `CacheOptions` with every default filled in and every value checked: what the engine reads. */
export interface ResolvedOptions {
  store: Store
  dir: string | undefined
  durability: Durability
  syncIntervalMs: number | undefined
  logWriteScheduling: 'microtask' | 'immediate'
  coalesce: boolean
  flush: Required<FlushOptions>
  backlog: Required<BacklogOptions>
  memory: Required<MemoryOptions>
  retry: Required<RetryOptions>
  alerts: AlertOptions
  maxKeyBytes: number
  maxValueBytes: number
  closeTimeoutMs: number
  recovery: 'strict' | 'truncate'
  segmentBytes: number
  codec: Codec
  clock: Clock
  warn: (code: string, message: string) => void
  checkStore: boolean
}

export function resolveOptions(options: CacheOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('WriteBehindCache.open() needs an options object')
  checkOptionNames(options)
  checkStore(options.store)
  const dir = optionalString(options.dir, 'dir') ?? DEFAULTS.dir
  const warn = options.warn ?? defaultWarn
  const durability = resolveDurability(options.durability, dir)
  const resolved: ResolvedOptions = {
    store: options.store,
    dir,
    durability,
    syncIntervalMs: optionalNumber(options.syncIntervalMs, 'syncIntervalMs', 1) ?? DEFAULTS.syncIntervalMs,
    logWriteScheduling: oneOf(options.logWriteScheduling, 'logWriteScheduling', ['microtask', 'immediate'] as const) ?? DEFAULTS.logWriteScheduling,
    coalesce: optionalBoolean(options.coalesce, 'coalesce') ?? DEFAULTS.coalesce,
    flush: {
      intervalMs: num(options.flush?.intervalMs, 'flush.intervalMs', DEFAULTS.flush.intervalMs, 1),
      batchSize: int(options.flush?.batchSize, 'flush.batchSize', DEFAULTS.flush.batchSize, 1),
      maxDelayMs: num(options.flush?.maxDelayMs, 'flush.maxDelayMs', DEFAULTS.flush.maxDelayMs, 1),
      concurrency: int(options.flush?.concurrency, 'flush.concurrency', DEFAULTS.flush.concurrency, 1),
      batchTimeoutMs: num(options.flush?.batchTimeoutMs, 'flush.batchTimeoutMs', DEFAULTS.flush.batchTimeoutMs, 1),
      triggerEntries: 0,
    },
    backlog: {
      maxEntries: int(options.backlog?.maxEntries, 'backlog.maxEntries', DEFAULTS.backlog.maxEntries, 1),
      maxBytes: num(options.backlog?.maxBytes, 'backlog.maxBytes', DEFAULTS.backlog.maxBytes, 1),
      whenFull: oneOf(options.backlog?.whenFull, 'backlog.whenFull', ['wait', 'reject', 'store'] as const) ?? DEFAULTS.backlog.whenFull,
      maxWaiting: num(options.backlog?.maxWaiting, 'backlog.maxWaiting', DEFAULTS.backlog.maxWaiting, 0),
    },
    memory: {
      maxEntries: num(options.memory?.maxEntries, 'memory.maxEntries', DEFAULTS.memory.maxEntries, 1),
      maxBytes: num(options.memory?.maxBytes, 'memory.maxBytes', DEFAULTS.memory.maxBytes, 1),
    },
    retry: {
      baseDelayMs: num(options.retry?.baseDelayMs, 'retry.baseDelayMs', DEFAULTS.retry.baseDelayMs, 0),
      maxDelayMs: num(options.retry?.maxDelayMs, 'retry.maxDelayMs', DEFAULTS.retry.maxDelayMs, 0),
      maxAttempts: int(options.retry?.maxAttempts, 'retry.maxAttempts', DEFAULTS.retry.maxAttempts, 1),
      circuitThreshold: int(options.retry?.circuitThreshold, 'retry.circuitThreshold', DEFAULTS.retry.circuitThreshold, 1),
    },
    alerts: { maxStalenessMs: optionalNumber(options.alerts?.maxStalenessMs, 'alerts.maxStalenessMs', 1) ?? DEFAULTS.alerts.maxStalenessMs },
    maxKeyBytes: int(options.maxKeyBytes, 'maxKeyBytes', DEFAULTS.maxKeyBytes, 1),
    maxValueBytes: int(options.maxValueBytes, 'maxValueBytes', DEFAULTS.maxValueBytes, 1),
    closeTimeoutMs: num(options.closeTimeoutMs, 'closeTimeoutMs', DEFAULTS.closeTimeoutMs, 0),
    recovery: oneOf(options.recovery, 'recovery', ['strict', 'truncate'] as const) ?? DEFAULTS.recovery,
    segmentBytes: int(options.segmentBytes, 'segmentBytes', DEFAULTS.segmentBytes, 4096),
    codec: options.codec ?? strictJson,
    clock: options.clock ?? systemClock,
    warn,
    checkStore: optionalBoolean(options.checkStore, 'checkStore') ?? DEFAULTS.checkStore,
  }
  resolved.flush.triggerEntries = int(options.flush?.triggerEntries, 'flush.triggerEntries', defaultTrigger(resolved), 1)
  warnAboutRisks(resolved, options)
  return resolved
}

function defaultTrigger(resolved: ResolvedOptions): number {
  const { batchSize } = resolved.flush
  return resolved.coalesce ? Math.max(batchSize, Math.floor(resolved.backlog.maxEntries / 4)) : batchSize
}

function resolveDurability(value: Durability | undefined, dir: string | undefined): Durability {
  const durability = oneOf(value, 'durability', DURABILITIES) ?? (dir === undefined ? DEFAULTS.durability.withoutDir : DEFAULTS.durability.withDir)
  if (dir === undefined && (durability === 'log' || durability === 'disk')) {
    throw new TypeError(`durability '${durability}' needs a dir for the dirty log; pass dir, or use 'memory' or 'store'`)
  }
  return durability
}

function warnAboutRisks(resolved: ResolvedOptions, options: CacheOptions): void {
  if (resolved.dir === undefined && resolved.durability !== 'store') {
    resolved.warn(
      'WB_NO_LOG',
      'writebehind: no dir is set, so there is no dirty log: acknowledged writes that are not yet flushed are lost if the process dies. Pass dir to keep them.',
    )
  }
  if (options.retry?.maxDelayMs !== undefined && resolved.retry.maxDelayMs < resolved.retry.baseDelayMs) {
    throw new TypeError('retry.maxDelayMs must be at least retry.baseDelayMs')
  }
}

const warned = new Set<string>()
function defaultWarn(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { code })
}

function checkStore(store: unknown): void {
  const s = store as { writeBatch?: unknown; load?: unknown } | undefined
  if (typeof s !== 'object' || s === null || typeof s.writeBatch !== 'function' || typeof s.load !== 'function') {
    throw new TypeError('store must be a Store (an object with writeBatch(ops) and load(keys)), e.g. new SqliteStore({ path })')
  }
}

function num(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < min) {
    throw new TypeError(`${name} must be a number >= ${min}, got ${show(value)}`)
  }
  return value
}

function int(value: unknown, name: string, fallback: number, min: number): number {
  const n = num(value, name, fallback, min)
  if (!Number.isInteger(n)) throw new TypeError(`${name} must be a whole number, got ${n}`)
  return n
}

function optionalNumber(value: unknown, name: string, min: number): number | undefined {
  return value === undefined ? undefined : num(value, name, 0, min)
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0) throw new TypeError(`${name} must be a non-empty string`)
  return value
}

function optionalBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be true or false`)
  return value
}


function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value)
}
