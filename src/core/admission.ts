/**
 * Admission to a full backlog under `whenFull: 'wait'`: writes that find the backlog at its cap
 * wait here in arrival order, and are applied (given their version) as flushes make room. While
 * anyone waits, later writes queue behind them, so per-caller order is kept.
 */

interface Waiting {
  readonly apply: () => void
  readonly reject: (error: Error) => void
  /** False for a `drained()` marker, which takes no room. */
  readonly needsRoom: boolean
}

export class Admission {
  private queue: Waiting[] = []
  private head = 0

  constructor(private readonly isFull: () => boolean) {}

  get waiting(): number {
    return this.queue.length - this.head
  }

  /** True when a write may be applied at once. */
  canApplyNow(): boolean {
    return this.head === this.queue.length && !this.isFull()
  }

  /** Queues `apply`; the returned promise follows the promise `apply` returns once admitted. */
  enqueue(apply: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const run = (): void => {
        try {
          apply().then(resolve, reject)
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)))
        }
      }
      this.queue.push({ apply: run, reject, needsRoom: true })
    })
  }

  /** Resolves once every write waiting now has been admitted (at once when none waits). */
  drained(): Promise<void> {
    if (this.waiting === 0) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ apply: resolve, reject, needsRoom: false })
    })
  }

  /** Admits waiting writes, oldest first, while there is room. */
  release(): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as Waiting
      if (next.needsRoom && this.isFull()) break
      this.queue[this.head++] = undefined as unknown as Waiting
      next.apply()
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    }
  }

  /** Rejects every waiting write (the cache is closing). */
  rejectAll(error: Error): void {
    const rest = this.queue.slice(this.head)
    this.queue = []
    this.head = 0
    for (const w of rest) w.reject(error)
  }
}
