/**
 * Every option's default, in one table. `resolveOptions` and the dirty log read it, the `@default`
 * of each option in `options.ts` cites it, and a test (test/unit/defaults.test.ts) keeps the
 * README's options table equal to it.
 *
 * Left out, because their default is not a plain value: `store` (required), `flush.triggerEntries`
 * (computed from `flush.batchSize`, `coalesce` and `backlog.maxEntries`), `codec` (`strictJson`),
 * `clock` (`systemClock`) and `warn` (`process.emitWarning`). `undefined` means "none" (the
 * feature is off); `Infinity` means unbounded.
 */
const MiB = 1024 * 1024

export const DEFAULTS = Object.freeze({
  name: 'default',
  tier: undefined,
  dir: undefined,
  /** `withDir` when `dir` is set, else `withoutDir`. */
  durability: Object.freeze({ withDir: 'log', withoutDir: 'memory' } as const),
  syncIntervalMs: undefined,
  logWriteScheduling: 'microtask',
  coalesce: true,
  flush: Object.freeze({ intervalMs: 500, batchSize: 500, maxDelayMs: 5000, concurrency: 2, batchTimeoutMs: 30_000, order: 'key' } as const),
  backlog: Object.freeze({ maxEntries: 1_000_000, maxBytes: 256 * MiB, whenFull: 'wait', maxWaiting: 100_000 } as const),
  memory: Object.freeze({ maxEntries: 1_000_000, maxBytes: 256 * MiB } as const),
  retry: Object.freeze({ baseDelayMs: 100, maxDelayMs: 30_000, maxAttempts: 8, circuitThreshold: 5 } as const),
  alerts: Object.freeze({ maxStalenessMs: undefined } as const),
  maxKeyBytes: 1024,
  maxValueBytes: 16 * MiB,
  closeTimeoutMs: 30_000,
  recovery: 'strict',
  segmentBytes: 64 * MiB,
  checkStore: true,
  ttlMs: undefined,
  staleWhileRevalidateMs: undefined,
} as const)
