/** A promise settled from outside: the shared waiter of one group-commit write or fsync round. */

export interface Deferred {
  readonly promise: Promise<void>
  resolve(): void
  reject(error: Error): void
}

/**
 * A promise with its settle functions. `unawaited` ones (a background fsync round nobody waits
 * for) get a no-op handler so their rejection is not an unhandled rejection; the others are
 * returned to callers, who must handle them (and skipping the extra promise is measurably cheaper).
 */
export function deferred(unawaited = false): Deferred {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)))
  if (unawaited) promise.catch(() => {})
  return { promise, resolve, reject }
}
