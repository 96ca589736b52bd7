/**
 * What keeps the recovery commands from turning a broken store into dead letters. The cache
 * dead-letters an op its store refuses for good; offline, against a store that refuses EVERY op
 * alike (a table missing, a privilege missing, a server gone), that would move the whole log into
 * the dead-letter queue (and, in `dlq replay`, overwrite each letter's error). So the commands run
 * the cache on a `GuardedStore`:
 *
 * - after any failure it checks the store again (`checkStore`); when the check fails, or
 * - when the store has not applied a single op in this run and an op would now settle as failed
 *   (a one-op batch failing for good, a batch whose every op failed, or a key failing a third
 *   time): nothing can tell that failure apart from a store-wide one,
 *
 * it TRIPS: from then on no call to the real store is answered (batches and pings stay pending),
 * so nothing more is applied, dead-lettered or rewritten, and `tripped` resolves with the cause.
 * The command then closes the cache at once (the `TripwireClock` fires the close timeout early):
 * what was not applied stays in the log, the letters stay as they were.
 */
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { Clock, TimerHandle } from '../contracts/clock.js'
import type { BatchResult, LoadedEntry, Store, StoreOp } from '../contracts/store.js'
import { isRetryable } from '../flush/retry.js'
import { toError } from '../to-error.js'
import { checkStore, type CliStore } from './store-spec.js'

/** How often one key may fail (retryably) before any op was applied, before the guard trips. */
const FAILURES_BEFORE_TRIP = 3

export class GuardedStore implements Store {
  private appliedOps = 0
  private cause: Error | undefined
  private readonly failuresByKey = new Map<string, number>()
  private resolveTrip!: (cause: Error) => void
  /** Resolves with the cause once the guard has tripped; never rejects. */
  readonly tripped: Promise<Error>

  constructor(
    private readonly opened: CliStore,
    private readonly options: { yieldEachBatch?: boolean; onTrip?: () => void } = {},
  ) {
    this.tripped = new Promise((resolve) => (this.resolveTrip = resolve))
  }

  /** Why the guard tripped, if it did. */
  get tripCause(): Error | undefined {
    return this.cause
  }

  /** Ops the store applied in this run. */
  get applied(): number {
    return this.appliedOps
  }

  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    // better-sqlite3 is synchronous: one turn per batch lets a progress line draw during a long replay.
    if (this.options.yieldEachBatch === true) await nextTurn()
    if (this.cause !== undefined) return pending()
    let result: BatchResult | void
    try {
      result = await this.opened.store.writeBatch(ops)
    } catch (error) {
      await this.judge(ops, ops, error)
      if (this.cause !== undefined) return pending()
      throw error
    }
    const failures = result?.failures ?? []
    if (failures.length < ops.length) this.appliedOps += ops.length - failures.length
    if (failures.length > 0) {
      const failed = failures.map((f) => ops[f.index]).filter((op): op is StoreOp => op !== undefined)
      await this.judge(ops, failed, failures[0]?.error)
      if (this.cause !== undefined) return pending()
    }
    return result
  }

  load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    return this.cause !== undefined ? pending() : this.opened.store.load(keys)
  }

  async ping(): Promise<void> {
    if (this.cause !== undefined) return pending()
    const { store } = this.opened
    await (store.ping?.() ?? store.load(['writebehind:cli-check']))
  }

  close(): Promise<void> {
    return this.opened.store.close?.() ?? Promise.resolve()
  }

  /** After a failure of `failed` (of the batch `ops`): trips when the store is broken, or not shown to work. */
  private async judge(ops: readonly StoreOp[], failed: readonly StoreOp[], error: unknown): Promise<void> {
    if (this.cause !== undefined) return
    try {
      await checkStore(this.opened)
    } catch (checkError) {
      return this.trip(checkError as Error)
    }
    if (this.appliedOps > 0) return
    const cause = toError(error)
    // A thrown one-op batch, or a batch whose every op failed on its own, is what the cache dead-letters.
    const settles = failed === ops ? ops.length === 1 : failed.length === ops.length
    if (!isRetryable(error) && settles) return this.trip(cause)
    for (const op of failed) {
      const count = (this.failuresByKey.get(op.key) ?? 0) + 1
      this.failuresByKey.set(op.key, count)
      if (count >= FAILURES_BEFORE_TRIP && failed.length === 1) return this.trip(cause)
    }
  }

  private trip(cause: Error): void {
    this.cause = cause
    this.options.onTrip?.()
    this.resolveTrip(cause)
  }
}

/** A promise that never settles: a tripped guard answers nothing. */
function pending<T>(): Promise<T> {
  return new Promise<T>(() => {})
}

/**
 * The system clock, plus `trip()`: every pending timer fires now and later ones at once, so a
 * `close()` waiting out its drain timeout returns without waiting (the flights it abandons stay
 * in the log).
 */
export class TripwireClock implements Clock {
  private readonly timers = new Map<TimerHandle, { fn: () => void; timer: ReturnType<typeof setTimeout> }>()
  private fired = false

  now(): number {
    return Date.now()
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = { unref: () => this.timers.get(handle)?.timer.unref() }
    const timer = setTimeout(
      () => {
        this.timers.delete(handle)
        fn()
      },
      this.fired ? 0 : ms,
    )
    this.timers.set(handle, { fn, timer })
    return handle
  }

  clearTimeout(handle: TimerHandle): void {
    const entry = this.timers.get(handle)
    if (entry === undefined) return
    clearTimeout(entry.timer)
    this.timers.delete(handle)
  }

  /** Fires every pending timer now; timers set later fire at once. */
  trip(): void {
    this.fired = true
    for (const [handle, entry] of [...this.timers]) {
      clearTimeout(entry.timer)
      entry.timer = setTimeout(() => {
        this.timers.delete(handle)
        entry.fn()
      }, 0)
    }
  }
}
