/**
 * The names of every option, and the one check that an options object holds only those: an
 * unknown name (a typo, an option from another cache library) or a group of the wrong type throws
 * a `TypeError` that names it and suggests the option meant. TypeScript callers get this from the
 * types; plain JavaScript and configs built at run time get it here.
 */
import type { AlertOptions, BacklogOptions, CacheOptions, FlushOptions, MemoryOptions, RetryOptions, WriteOptions } from '../contracts/options.js'
import { editDistance } from './edit-distance.js'

type Names<T> = Record<keyof T, true>

const CACHE_OPTIONS: Names<CacheOptions> = {
  store: true, dir: true, durability: true, syncIntervalMs: true, logWriteScheduling: true, coalesce: true,
  flush: true, backlog: true, memory: true, retry: true, alerts: true, maxKeyBytes: true, maxValueBytes: true,
  closeTimeoutMs: true, recovery: true, segmentBytes: true, codec: true, clock: true, warn: true, checkStore: true,
}

const GROUPS = {
  flush: { intervalMs: true, batchSize: true, triggerEntries: true, maxDelayMs: true, concurrency: true, batchTimeoutMs: true } satisfies Names<FlushOptions>,
  backlog: { maxEntries: true, maxBytes: true, whenFull: true, maxWaiting: true } satisfies Names<BacklogOptions>,
  memory: { maxEntries: true, maxBytes: true } satisfies Names<MemoryOptions>,
  retry: { baseDelayMs: true, maxDelayMs: true, maxAttempts: true, circuitThreshold: true } satisfies Names<RetryOptions>,
  alerts: { maxStalenessMs: true } satisfies Names<AlertOptions>,
}

/** The option groups and the names each takes. */
const OPTION_GROUPS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(Object.entries(GROUPS).map(([group, names]) => [group, Object.keys(names)]))

const WRITE_OPTIONS: Names<WriteOptions> = { durability: true }

/** Names other caches use, and what writebehind has instead. */
const HINTS: Readonly<Record<string, string>> = {
  ttl: 'writebehind has no ttl: entries stay until evicted; bound memory with memory.maxEntries or memory.maxBytes',
  maxAge: 'writebehind has no maxAge: entries stay until evicted; bound memory with memory.maxEntries or memory.maxBytes',
  max: "did you mean 'memory.maxEntries'?",
  maxSize: "did you mean 'memory.maxBytes'?",
}

/** Every option's full name (`flush.intervalMs`), for suggestions. */
const ALL_PATHS: readonly string[] = [
  ...Object.keys(CACHE_OPTIONS),
  ...Object.entries(OPTION_GROUPS).flatMap(([group, names]) => names.map((name) => `${group}.${name}`)),
]

/** Throws a `TypeError` for an unknown name or a group that is not an object, anywhere in `options`. */
export function checkOptionNames(options: object): void {
  checkNames(options, '', Object.keys(CACHE_OPTIONS))
  for (const [group, names] of Object.entries(OPTION_GROUPS)) {
    const value = (options as Record<string, unknown>)[group]
    if (value === undefined) continue
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new TypeError(`${group} must be an object such as { ${names[0]}: … }, got ${describe(value)}`)
    }
    checkNames(value, `${group}.`, names)
  }
}

/** The same check for the per-write options of `set`, `delete` and `setMany`. */
export function checkWriteOptionNames(options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`write options must be an object such as { durability: 'store' }, got ${describe(options)}`)
  }
  for (const name in options) {
    if (!Object.hasOwn(WRITE_OPTIONS, name)) throw new TypeError(`unknown write option '${name}'; ${suggestion(name, Object.keys(WRITE_OPTIONS))}`)
  }
}

/** `'stor'` → "did you mean 'store'?"; the closing part of every message about a wrong name or value. */
export function suggestion(given: string, candidates: readonly string[]): string {
  const best = closest(given, candidates)
  return best === undefined ? `expected one of ${candidates.map((c) => `'${c}'`).join(', ')}` : `did you mean '${best}'?`
}

function checkNames(value: object, prefix: string, names: readonly string[]): void {
  for (const name of Object.keys(value)) {
    if (names.includes(name)) continue
    const full = prefix + name
    const hint = HINTS[name] ?? suggestion(full, prefix === '' ? ALL_PATHS : [...names.map((n) => prefix + n), ...ALL_PATHS])
    throw new TypeError(`unknown option '${full}'; ${hint}`)
  }
}

/** `value` if it is one of `allowed` (or undefined); else a `TypeError` naming the option, with a suggestion. */
export function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined || allowed.includes(value as T)) return value as T | undefined
  const near = typeof value === 'string' ? closest(value, allowed) : undefined
  throw new TypeError(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}${near === undefined ? '' : `; did you mean '${near}'?`}`)
}

/** The candidate nearest `given` (case-insensitive edit distance, or one name containing the other), if near enough. */
function closest(given: string, candidates: readonly string[]): string | undefined {
  const g = given.toLowerCase()
  const last = g.slice(g.lastIndexOf('.') + 1)
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of candidates) {
    const c = candidate.toLowerCase()
    const tail = c.slice(c.lastIndexOf('.') + 1)
    let score = Math.min(editDistance(g, c), editDistance(last, tail) + (c === tail ? 0 : 0.5))
    if (last.length >= 3 && (tail.startsWith(last) || last.startsWith(tail))) score = Math.min(score, 1)
    if (score < bestScore) {
      bestScore = score
      best = candidate
    }
  }
  return bestScore <= Math.max(2, Math.floor(last.length / 3)) ? best : undefined
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object' && value !== null) return JSON.stringify(value) ?? 'an object'
  return typeof value === 'symbol' ? value.toString() : `${value as string}`
}
