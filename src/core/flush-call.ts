/**
 * `cache.flush(options)`: its options, checked at the door, and its deadline: the drain goes on
 * whatever the caller's timeout or signal says; only the caller stops waiting (nothing is lost).
 */
import type { Clock } from '../contracts/clock.js'
import type { FlushCallOptions } from '../contracts/reports.js'
import { FlushTimeoutError } from '../errors.js'
import { toError } from '../to-error.js'
import { checkNumber, invalid } from '../validate/check.js'

export function checkFlushOptions(options: FlushCallOptions): FlushCallOptions {
  if (typeof options !== 'object' || options === null) throw invalid('flush(options)', 'an object: { timeoutMs?, signal? }', options)
  const timeoutMs = checkNumber(options.timeoutMs, 'flush timeoutMs', { min: 0 })
  const { signal } = options
  if (signal !== undefined && (typeof signal !== 'object' || signal === null || typeof signal.addEventListener !== 'function')) {
    throw invalid('flush signal', 'an AbortSignal', signal)
  }
  return { timeoutMs, signal }
}

/** `work`, unless the timeout or the signal comes first (then a FlushTimeoutError; `work` goes on). */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number | undefined, signal: AbortSignal | undefined, clock: Clock, unflushed: () => number): Promise<T> {
  if (timeoutMs === undefined && signal === undefined) return work
  if (signal?.aborted === true) {
    work.catch(() => {})
    return Promise.reject(new FlushTimeoutError('abort', unflushed(), { cause: signal.reason }))
  }
  return new Promise<T>((resolve, reject) => {
    const timer = timeoutMs === undefined ? undefined : clock.setTimeout(() => finish(() => reject(new FlushTimeoutError('timeout', unflushed()))), timeoutMs)
    const onAbort = (): void => finish(() => reject(new FlushTimeoutError('abort', unflushed(), { cause: signal?.reason })))
    signal?.addEventListener('abort', onAbort, { once: true })
    let done = false
    function finish(settle: () => void): void {
      if (done) return
      done = true
      if (timer !== undefined) clock.clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      settle()
    }
    work.then(
      (value) => finish(() => resolve(value)),
      (error: unknown) => finish(() => reject(toError(error))),
    )
  })
}
