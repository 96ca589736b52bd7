/**
 * Turns user options into `ResolvedOptions`: defaults (`DEFAULTS`) filled in, every value checked.
 * A bad option throws an `InvalidOptionError` (a `TypeError`) that names it (validate/check.ts);
 * a legal but risky one warns once with a code.
 */
import { systemClock, type Clock } from '../contracts/clock.js'
import type { Codec } from '../contracts/codec.js'
import { DEFAULTS } from '../contracts/defaults.js'
import { DURABILITIES, type AlertOptions, type BacklogOptions, type CacheOptions, type Durability, type FlushOptions, type MemoryOptions, type RetryOptions } from '../contracts/options.js'
import type { Store } from '../contracts/store.js'
import { InvalidOptionError } from '../errors.js'
import { checkBoolean, checkNumber, checkString, invalid, oneOf } from '../validate/check.js'
import { strictJson } from './json-codec.js'
import { checkOptionNames } from './option-names.js'

/** `CacheOptions` with every default filled in and every value checked: what the engine reads. */
export interface ResolvedOptions {
  store: Store
  /** The cache's name, carried by every diagnostics-channel message. */
  name: string
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
  /** How long a clean entry is served (ms); 0: never expires. */
  ttlMs: number
  /** How long past its expiry an entry is served while it is reloaded (ms); 0: not at all. */
  staleWhileRevalidateMs: number
}

export function resolveOptions(options: CacheOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('WriteBehindCache.open() options', 'an object such as { store }', options)
  checkOptionNames(options)
  checkStore(options.store)
  const dir = checkString(options.dir, 'dir') ?? DEFAULTS.dir
  const warn = options.warn ?? defaultWarn
  const durability = resolveDurability(options.durability, dir)
  const resolved: ResolvedOptions = {
    store: options.store,
    name: checkName(options.name),
    dir,
    durability,
    syncIntervalMs: checkNumber(options.syncIntervalMs, 'syncIntervalMs', { min: 1 }) ?? DEFAULTS.syncIntervalMs,
    logWriteScheduling: oneOf(options.logWriteScheduling, 'logWriteScheduling', ['microtask', 'immediate'] as const) ?? DEFAULTS.logWriteScheduling,
    coalesce: checkBoolean(options.coalesce, 'coalesce') ?? DEFAULTS.coalesce,
    flush: resolveFlush(options.flush ?? {}),
    backlog: {
      maxEntries: checkNumber(options.backlog?.maxEntries, 'backlog.maxEntries', WHOLE) ?? DEFAULTS.backlog.maxEntries,
      maxBytes: checkNumber(options.backlog?.maxBytes, 'backlog.maxBytes', { min: 1 }) ?? DEFAULTS.backlog.maxBytes,
      whenFull: oneOf(options.backlog?.whenFull, 'backlog.whenFull', ['wait', 'reject', 'store'] as const) ?? DEFAULTS.backlog.whenFull,
      maxWaiting: checkNumber(options.backlog?.maxWaiting, 'backlog.maxWaiting', { min: 0 }) ?? DEFAULTS.backlog.maxWaiting,
    },
    memory: {
      maxEntries: checkNumber(options.memory?.maxEntries, 'memory.maxEntries', { min: 1 }) ?? DEFAULTS.memory.maxEntries,
      maxBytes: checkNumber(options.memory?.maxBytes, 'memory.maxBytes', { min: 1 }) ?? DEFAULTS.memory.maxBytes,
    },
    retry: {
      baseDelayMs: checkNumber(options.retry?.baseDelayMs, 'retry.baseDelayMs', { min: 0 }) ?? DEFAULTS.retry.baseDelayMs,
      maxDelayMs: checkNumber(options.retry?.maxDelayMs, 'retry.maxDelayMs', { min: 0 }) ?? DEFAULTS.retry.maxDelayMs,
      maxAttempts: checkNumber(options.retry?.maxAttempts, 'retry.maxAttempts', WHOLE) ?? DEFAULTS.retry.maxAttempts,
      circuitThreshold: checkNumber(options.retry?.circuitThreshold, 'retry.circuitThreshold', WHOLE) ?? DEFAULTS.retry.circuitThreshold,
    },
    alerts: { maxStalenessMs: checkNumber(options.alerts?.maxStalenessMs, 'alerts.maxStalenessMs', { min: 1 }) ?? DEFAULTS.alerts.maxStalenessMs },
    maxKeyBytes: checkNumber(options.maxKeyBytes, 'maxKeyBytes', WHOLE) ?? DEFAULTS.maxKeyBytes,
    maxValueBytes: checkNumber(options.maxValueBytes, 'maxValueBytes', WHOLE) ?? DEFAULTS.maxValueBytes,
    closeTimeoutMs: checkNumber(options.closeTimeoutMs, 'closeTimeoutMs', { min: 0 }) ?? DEFAULTS.closeTimeoutMs,
    recovery: oneOf(options.recovery, 'recovery', ['strict', 'truncate'] as const) ?? DEFAULTS.recovery,
    segmentBytes: checkNumber(options.segmentBytes, 'segmentBytes', { min: 4096, integer: true }) ?? DEFAULTS.segmentBytes,
    codec: options.codec ?? strictJson,
    clock: options.clock ?? systemClock,
    warn,
    checkStore: checkBoolean(options.checkStore, 'checkStore') ?? DEFAULTS.checkStore,
    ttlMs: checkExpiryMs(options.ttlMs, 'ttlMs') ?? DEFAULTS.ttlMs ?? 0,
    staleWhileRevalidateMs: checkExpiryMs(options.staleWhileRevalidateMs, 'staleWhileRevalidateMs') ?? DEFAULTS.staleWhileRevalidateMs ?? 0,
  }
  resolved.flush.triggerEntries = checkNumber(options.flush?.triggerEntries, 'flush.triggerEntries', WHOLE) ?? defaultTrigger(resolved)
  warnAboutRisks(resolved, options)
  return resolved
}

/**
 * A duration of expiry (`ttlMs`, cache-wide or per write; `staleWhileRevalidateMs`): a number >= 0;
 * `Infinity` is taken as 0 (never).
 */
export function checkExpiryMs(value: unknown, name: string): number | undefined {
  const ms = checkNumber(value, name, { min: 0 })
  return ms === Infinity ? 0 : ms
}

/** A whole number >= 1. */
const WHOLE = { min: 1, integer: true } as const

/** The flush group; `triggerEntries` is filled in once the backlog bound is known. */
function resolveFlush(flush: FlushOptions): Required<FlushOptions> {
  const order = oneOf(flush.order, 'flush.order', ['key', 'global'] as const) ?? DEFAULTS.flush.order
  return {
    intervalMs: checkNumber(flush.intervalMs, 'flush.intervalMs', { min: 1 }) ?? DEFAULTS.flush.intervalMs,
    batchSize: checkNumber(flush.batchSize, 'flush.batchSize', WHOLE) ?? DEFAULTS.flush.batchSize,
    maxDelayMs: checkNumber(flush.maxDelayMs, 'flush.maxDelayMs', { min: 1 }) ?? DEFAULTS.flush.maxDelayMs,
    concurrency: resolveConcurrency(flush.concurrency, order),
    batchTimeoutMs: checkNumber(flush.batchTimeoutMs, 'flush.batchTimeoutMs', { min: 1 }) ?? DEFAULTS.flush.batchTimeoutMs,
    triggerEntries: 0,
    order,
  }
}

/** Global order means one batch in flight: a concurrency above 1 asked for with it is a contradiction. */
function resolveConcurrency(value: number | undefined, order: 'key' | 'global'): number {
  const concurrency = checkNumber(value, 'flush.concurrency', WHOLE)
  if (order === 'key') return concurrency ?? DEFAULTS.flush.concurrency
  if (concurrency !== undefined && concurrency !== 1) {
    throw invalid('flush.concurrency', "1 with flush.order 'global' (one batch in flight keeps the order)", concurrency, "leave it out, or use flush.order: 'key'")
  }
  return 1
}

function defaultTrigger(resolved: ResolvedOptions): number {
  const { batchSize } = resolved.flush
  return resolved.coalesce ? Math.max(batchSize, Math.floor(resolved.backlog.maxEntries / 4)) : batchSize
}

function resolveDurability(value: Durability | undefined, dir: string | undefined): Durability {
  const durability = oneOf(value, 'durability', DURABILITIES) ?? (dir === undefined ? DEFAULTS.durability.withoutDir : DEFAULTS.durability.withDir)
  if (dir === undefined && (durability === 'log' || durability === 'disk')) {
    throw new InvalidOptionError('durability', `durability '${durability}' needs a dir for the dirty log; pass dir, or use 'memory' or 'store'`)
  }
  return durability
}

function warnAboutRisks(resolved: ResolvedOptions, options: CacheOptions): void {
  if (resolved.dir === undefined && resolved.durability !== 'store') {
    resolved.warn('WB_NO_LOG', 'writebehind: no dir is set, so there is no dirty log: acknowledged writes that are not yet flushed are lost if the process dies. Pass dir to keep them.')
  }
  if (options.retry?.maxDelayMs !== undefined && resolved.retry.maxDelayMs < resolved.retry.baseDelayMs) {
    throw invalid('retry.maxDelayMs', `>= retry.baseDelayMs (${resolved.retry.baseDelayMs})`, resolved.retry.maxDelayMs)
  }
}

const warned = new Set<string>()
function defaultWarn(code: string, message: string): void {
  if (warned.has(code)) return
  warned.add(code)
  process.emitWarning(message, { code })
}

/** Longest `name`: it labels metrics and every message, so a key or a value passed by mistake is refused. */
export const MAX_NAME_LENGTH = 128

function checkName(value: unknown): string {
  const name = checkString(value, 'name') ?? DEFAULTS.name
  if (name.length > MAX_NAME_LENGTH) throw invalid('name', `a string of at most ${MAX_NAME_LENGTH} characters`, value)
  return name
}

function checkStore(store: unknown): void {
  const s = store as { writeBatch?: unknown; load?: unknown } | undefined
  if (typeof s !== 'object' || s === null || typeof s.writeBatch !== 'function' || typeof s.load !== 'function') {
    throw invalid('store', 'a Store (an object with writeBatch(ops) and load(keys))', store, 'e.g. new SqliteStore({ path })')
  }
}
