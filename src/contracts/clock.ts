/**
 * The clock the cache reads for time and timers. Injected so tests move time instead of sleeping
 * (see `FakeClock` in `writebehind/testing`). The contract leaves out monotonicity: `now()` may
 * jump (NTP); the cache only uses it for ages, deadlines and as a floor for versions.
 */
export interface TimerHandle {
  /** Lets the process exit while this timer is pending (Node's `unref`). */
  unref?(): void
}

export interface Clock {
  /** Milliseconds since the epoch, like `Date.now()`. */
  now(): number
  /** Runs `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer; a no-op for one that already ran or was cleared. */
  clearTimeout(handle: TimerHandle): void
}

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}
