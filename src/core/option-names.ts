/**
 * The names of every option, and the one check that an options object holds only those: an
 * unknown name (a typo, an option from another cache library) or a group of the wrong type throws
 * an `InvalidOptionError` (a `TypeError`) that names it and suggests the option meant. TypeScript
 * callers get this from the types; plain JavaScript and configs built at run time get it here.
 */
import type { AlertOptions, BacklogOptions, CacheOptions, FlushOptions, MemoryOptions, RetryOptions, WriteOptions } from '../contracts/options.js'
import { invalid, unknownName } from '../validate/check.js'

type Names<T> = Record<keyof T, true>

const CACHE_OPTIONS: Names<CacheOptions> = {
  store: true,
  dir: true,
  name: true,
  durability: true,
  syncIntervalMs: true,
  logWriteScheduling: true,
  coalesce: true,
  flush: true,
  backlog: true,
  memory: true,
  retry: true,
  alerts: true,
  maxKeyBytes: true,
  maxValueBytes: true,
  closeTimeoutMs: true,
  recovery: true,
  segmentBytes: true,
  codec: true,
  clock: true,
  warn: true,
  checkStore: true,
  ttlMs: true,
  staleWhileRevalidateMs: true,
  tier: true,
}

const GROUPS = {
  flush: { intervalMs: true, batchSize: true, triggerEntries: true, maxDelayMs: true, concurrency: true, batchTimeoutMs: true, order: true } satisfies Names<FlushOptions>,
  backlog: { maxEntries: true, maxBytes: true, whenFull: true, maxWaiting: true } satisfies Names<BacklogOptions>,
  memory: { maxEntries: true, maxBytes: true } satisfies Names<MemoryOptions>,
  retry: { baseDelayMs: true, maxDelayMs: true, maxAttempts: true, circuitThreshold: true } satisfies Names<RetryOptions>,
  alerts: { maxStalenessMs: true } satisfies Names<AlertOptions>,
}

/** The option groups and the names each takes. */
const OPTION_GROUPS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(Object.entries(GROUPS).map(([group, names]) => [group, Object.keys(names)]))

const WRITE_OPTIONS: Names<WriteOptions> = { durability: true, ttlMs: true }

/** Names other caches use, and what writebehind has instead. */
const HINTS: Readonly<Record<string, string>> = {
  ttl: "did you mean 'ttlMs'? (milliseconds)",
  maxAge: "did you mean 'ttlMs'? (milliseconds)",
  max: "did you mean 'memory.maxEntries'?",
  maxSize: "did you mean 'memory.maxBytes'?",
}

/** Every option's full name (`flush.intervalMs`), for suggestions. */
const ALL_PATHS: readonly string[] = [...Object.keys(CACHE_OPTIONS), ...Object.entries(OPTION_GROUPS).flatMap(([group, names]) => names.map((name) => `${group}.${name}`))]

/** Throws an `InvalidOptionError` for an unknown name or a group that is not an object, anywhere in `options`. */
export function checkOptionNames(options: object): void {
  checkNames(options, '', Object.keys(CACHE_OPTIONS))
  for (const [group, names] of Object.entries(OPTION_GROUPS)) {
    const value = (options as Record<string, unknown>)[group]
    if (value === undefined) continue
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(group, `an object such as { ${names[0]}: … }`, value)
    checkNames(value, `${group}.`, names)
  }
}

/** The same check for the per-write options of `set`, `delete` and `setMany`. */
export function checkWriteOptionNames(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid('write options', "an object such as { durability: 'store' }", options)
  }
  for (const name in options) {
    if (!Object.hasOwn(WRITE_OPTIONS, name)) throw unknownName('write option', name, Object.keys(WRITE_OPTIONS))
  }
}

function checkNames(value: object, prefix: string, names: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (names.includes(name)) continue
    const full = prefix + name
    throw unknownName('option', full, prefix === '' ? ALL_PATHS : [...names.map((n) => prefix + n), ...ALL_PATHS], HINTS[name])
  }
}
