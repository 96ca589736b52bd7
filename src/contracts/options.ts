/**
 * The options of `WriteBehindCache.open()` and of one write. Every option is optional but `store`;
 * each cites its default in `DEFAULTS` (defaults.ts). Validation (a bad option throws a `TypeError` naming it) lives in
 * `core/resolve-options.ts`; the contract leaves out how options are stored once resolved.
 */
import type { Clock } from './clock.js'
import type { Codec } from './codec.js'
import type { Store } from './store.js'

/**
 * What a write's promise waits for. See the README's durability table for what each can lose.
 * `replicated` exists only on a Redis tier (`tier`), where `log` and `disk` do not.
 */
export type Durability = 'memory' | 'log' | 'disk' | 'store' | 'replicated'

/** Every durability level of the embedded tier, weakest first. */
export const DURABILITIES: readonly Durability[] = ['memory', 'log', 'disk', 'store']

/**
 * A shared tier: the cache's values and dirty set live outside the process, and any number of
 * processes open the same cache (`RedisTier` from `writebehind/redis`).
 */
export interface CacheTier {
  /** Which kind of tier, such as `'redis'`. */
  readonly kind: string
}

/** When and how the backlog is flushed to the store. */
export interface FlushOptions {
  /** Flush whatever is dirty this often. @default 500 (DEFAULTS.flush.intervalMs) */
  intervalMs?: number
  /** Most ops per `store.writeBatch` call. @default 500 (DEFAULTS.flush.batchSize) */
  batchSize?: number
  /**
   * A flush starts at once, without waiting for the interval, when this many unflushed entries
   * wait (the "batch full" trigger). With coalescing the default is high on purpose: flushing a
   * key early forfeits coalescing its next writes, so the interval sets the coalescing window and
   * this trigger only relieves backlog pressure before `backlog.maxEntries` is reached.
   * @default batchSize with `coalesce: false`; else max(batchSize, backlog.maxEntries / 4)
   */
  triggerEntries?: number
  /** A dirty key is flushed no later than this after its first unflushed write. @default 5000 (DEFAULTS.flush.maxDelayMs) */
  maxDelayMs?: number
  /** Batches in flight at once (never two with the same key). @default 2 (DEFAULTS.flush.concurrency) */
  concurrency?: number
  /**
   * A `store.writeBatch` call that has not settled after this long counts as a failed (retryable)
   * attempt, so a black-holed connection cannot stall flushing. A timed-out batch may still
   * commit later: fencing makes that harmless. @default 30_000 (DEFAULTS.flush.batchTimeoutMs)
   */
  batchTimeoutMs?: number
  /**
   * The order the store receives writes in. `'key'`: per key (a key's writes land in version
   * order; batches of different keys run in parallel, up to `concurrency`). `'global'`: across keys,
   * in version (acknowledgement) order: one batch in flight; each batch is the next range of
   * versions, in version order, holding every key written in that range (so after each batch the
   * store holds a state the cache went through); a failing batch holds back everything after it;
   * and a poison entry halts flushing (event `flush:halted`) instead of being dead-lettered and
   * skipped. `concurrency` must then be 1. Its cost, measured, is in the README ("Cross-key
   * order"). @default 'key' (DEFAULTS.flush.order)
   */
  order?: 'key' | 'global'
}

/** How many unflushed writes the cache holds, and what a write does when it holds that many. */
export interface BacklogOptions {
  /** Most unflushed entries (dirty keys; ops with `coalesce: false`). @default 1_000_000 (DEFAULTS.backlog.maxEntries) */
  maxEntries?: number
  /** Most bytes of unflushed keys and values. @default 256 MiB (DEFAULTS.backlog.maxBytes) */
  maxBytes?: number
  /**
   * What a write does when the backlog is full: `wait` until there is room (the promise waits; a
   * write that has to wait starts a flush at once, without waiting for `flush.intervalMs`),
   * `reject` with `BacklogFullError`, or `store` (write through to the store). @default 'wait' (DEFAULTS.backlog.whenFull)
   */
  whenFull?: 'wait' | 'reject' | 'store'
  /**
   * With `whenFull: 'wait'`, most writes waiting for room at once (their keys and values are also
   * held to `maxBytes`); a write past it is rejected with `BacklogFullError`. Writers that await
   * reach it only with that many writes in flight; writers that do not would otherwise queue without bound.
   * @default 100_000 (DEFAULTS.backlog.maxWaiting)
   */
  maxWaiting?: number
}

/**
 * How much the cache keeps in memory. Only clean (flushed) entries are ever evicted; dirty ones
 * are bounded by the backlog cap. The defaults equal the backlog's, so by default the cache holds
 * no more than its backlog may. Each entry costs about 330 bytes of heap beyond the key and value
 * counted here (measured on Node.js 20, small values).
 * `Infinity` makes a bound unbounded.
 */
export interface MemoryOptions {
  /** Most entries kept in memory; only clean entries are evicted, least recently used first. @default 1_000_000 (DEFAULTS.memory.maxEntries) */
  maxEntries?: number
  /** Most bytes of keys and encoded values kept in memory (clean ones evicted). @default 256 MiB (DEFAULTS.memory.maxBytes) */
  maxBytes?: number
}

/** How failed batches are retried, and when the circuit opens. */
export interface RetryOptions {
  /** First backoff delay; each retry doubles it, with full jitter. @default 100 (DEFAULTS.retry.baseDelayMs) */
  baseDelayMs?: number
  /** Cap on one backoff delay. @default 30_000 (DEFAULTS.retry.maxDelayMs) */
  maxDelayMs?: number
  /** Attempts per entry before it is dead-lettered (retryable errors only). @default 8 (DEFAULTS.retry.maxAttempts) */
  maxAttempts?: number
  /** Consecutive failed batches that open the circuit (flushing pauses and probes). @default 5 (DEFAULTS.retry.circuitThreshold) */
  circuitThreshold?: number
}

/** Alerts the cache emits as events. */
export interface AlertOptions {
  /** Emit `alert:staleness` when the oldest unflushed write is older than this. @default off (DEFAULTS.alerts.maxStalenessMs) */
  maxStalenessMs?: number
}

/** The options of `WriteBehindCache.open()`. */
export interface CacheOptions {
  /** Where flushed writes land. Required. */
  store: Store
  /** The cache's name: carried by every diagnostics-channel message and used as the `cache` label by the metrics adapters. Several caches in one process should have distinct names. @default 'default' (DEFAULTS.name) */
  name?: string
  /** Directory for the dirty log, checkpoint and dead letters. Without it only `memory` and `store` durability exist. @default none (DEFAULTS.dir): no dirty log */
  dir?: string
  /**
   * A shared tier instead of the embedded one: `new RedisTier({ client, name })` from
   * `writebehind/redis`. Values and the dirty set then live in Redis, every process opening the
   * same name shares one cache, and durability is `memory`, `replicated` or `store` (README, "Redis
   * tier"). Cannot go with `dir`. @default none (DEFAULTS.tier): the embedded tier, in this process
   */
  tier?: CacheTier
  /** Default durability of a write. @default 'log' with a dir, else 'memory' (DEFAULTS.durability) */
  durability?: Durability
  /** With durability `log`, fsync in the background this often (bounds power-loss exposure). @default none (DEFAULTS.syncIntervalMs): never in the background */
  syncIntervalMs?: number
  /**
   * When the dirty log hands appended records to the OS. `microtask`: at the end of the callback
   * that wrote them, so `log` acknowledgements take microseconds, but writes made from separate
   * callbacks (request handlers) cost one `write(2)` each. `immediate`: once per event-loop turn
   * (`setImmediate`), so every write of a turn shares one `write(2)`; an acknowledgement then waits
   * for the rest of the turn. @default 'microtask' (DEFAULTS.logWriteScheduling)
   */
  logWriteScheduling?: 'microtask' | 'immediate'
  /** Latest value per key per flush (true), or every write in order (false). @default true (DEFAULTS.coalesce) */
  coalesce?: boolean
  /** When and how the backlog is flushed. @default {} (every field at its default) */
  flush?: FlushOptions
  /** The cap on unflushed writes. @default {} (every field at its default) */
  backlog?: BacklogOptions
  /** The memory bound. @default {} (every field at its default) */
  memory?: MemoryOptions
  /** Retries and the circuit. @default {} (every field at its default) */
  retry?: RetryOptions
  /** Alert thresholds. @default {} (no alerts) */
  alerts?: AlertOptions
  /** Longest key, in UTF-8 bytes. @default 1024 (DEFAULTS.maxKeyBytes) */
  maxKeyBytes?: number
  /** Largest encoded value, in UTF-8 bytes. @default 16 MiB (DEFAULTS.maxValueBytes) */
  maxValueBytes?: number
  /** How `close()` waits for the backlog to drain before giving up (the rest stays in the log). @default 30_000 (DEFAULTS.closeTimeoutMs) */
  closeTimeoutMs?: number
  /** On a corrupt record in the log: `strict` stops `open()`; `truncate` drops it and all after it. @default 'strict' (DEFAULTS.recovery) */
  recovery?: 'strict' | 'truncate'
  /** Log segment size before it rolls. @default 64 MiB (DEFAULTS.segmentBytes) */
  segmentBytes?: number
  /** Value codec. @default `strictJson`, JSON (strict: rejects undefined, functions, symbols, BigInt, NaN, -0, cycles, Map/Set, Date, class instances) */
  codec?: Codec
  /** Time source for the scheduler, backoff and ages. @default `systemClock` */
  clock?: Clock
  /** Where one-time warnings go. @default process.emitWarning */
  warn?: (code: string, message: string) => void
  /**
   * Check the store before `open()` touches anything: `store.check()` (reachable, authenticated,
   * table present and writable), else `store.ping()`. A failure rejects `open()` with the store's
   * error, which names the cause. `false` skips it (a store that is down at open then keeps the
   * writes in the log until it is back). @default true (DEFAULTS.checkStore)
   */
  checkStore?: boolean
  /**
   * How long a clean entry is served from memory: `ttlMs` after it became clean (its write reached
   * the store) or was read from the store, the next `get` reads it through again. A dirty, in-flight,
   * held or dead-lettered entry never expires. Without it, a row another writer changes is served
   * from memory as it was until the entry is evicted. `0` or none: never. @default none (DEFAULTS.ttlMs): clean entries never expire
   */
  ttlMs?: number
  /**
   * For this long after an entry expired, `get` still serves its value at once and reloads it from
   * the store in the background (one load per key; a failed reload keeps serving the old value
   * until the window ends). Past the window, `get` waits for the store. @default none (DEFAULTS.staleWhileRevalidateMs)
   */
  staleWhileRevalidateMs?: number
}

/** Per-write options of `set`, `delete`, `setMany`. */
export interface WriteOptions {
  /** Overrides the cache's durability for this write. @default the cache's `durability` */
  durability?: Durability
  /** Overrides the cache's `ttlMs` for this value once it is clean (`0`: never expires); ignored by `delete`. @default the cache's `ttlMs` */
  ttlMs?: number
}
