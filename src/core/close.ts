/**
 * `cache.close()`: stop taking writes, drain the backlog for up to `closeTimeoutMs`, then release
 * everything (`Engine.close`). What could not be flushed in time is reported, and stays in the
 * dirty log (where there is one) for the next `open()`.
 */
import type { Clock } from '../contracts/clock.js'
import type { Engine } from './engine.js'

export interface CloseReport {
  /** True when everything acknowledged reached the store (or the dead-letter queue). */
  readonly drained: boolean
  /** Unflushed entries left behind. */
  readonly unflushed: number
  /** Up to 100 of their keys. */
  readonly unflushedKeys: string[]
  /** True when the dirty log closed cleanly: unflushed entries are in it and the next open() replays them. */
  readonly safeInLog: boolean
  /** Dead letters in the queue (in `dir/dead-letters.log`, or lost with the process without a dir). */
  readonly deadLetters: number
  /** Cleanups that failed (log, dead-letter queue, store). */
  readonly errors: Error[]
}

export async function closeCache(engine: Pick<Engine, 'drain' | 'close'>, timeoutMs: number, clock: Clock): Promise<CloseReport> {
  return engine.close(await drainWithin(engine.drain(), timeoutMs, clock))
}

/** Whether `drain` finished within `timeoutMs`. */
async function drainWithin(drain: Promise<unknown>, timeoutMs: number, clock: Clock): Promise<boolean> {
  let timer: ReturnType<typeof clock.setTimeout> | undefined
  const timeout = new Promise<false>((resolve) => {
    timer = clock.setTimeout(() => resolve(false), timeoutMs)
  })
  const drained = drain.then(() => true as const)
  drained.catch(() => {}) // after a timeout the drain is rejected by the stop; nobody waits for it any more
  const result = await Promise.race([drained, timeout])
  if (timer !== undefined) clock.clearTimeout(timer)
  return result
}
