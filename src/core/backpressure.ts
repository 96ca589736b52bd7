/**
 * Backpressure: whether the backlog (waiting entries plus those in flight) is at its cap, the
 * `backlog:full` episode, the high-water mark, and admission to a full backlog under
 * `whenFull: 'wait'`: writes that find the backlog at its cap
 * wait here in arrival order, and are applied (given their version) as flushes make room. While
 * anyone waits, later writes queue behind them, so per-caller order is kept. The queue is bounded
 * too (`backlog.maxWaiting` writes, `backlog.maxBytes` of their keys and values): writers that do
 * not await would otherwise grow it without limit; past the bound a write is refused.
 */
import type { BacklogOptions } from '../contracts/options.js'
import { BacklogFullError, StoreUnavailableError } from '../errors.js'
import { toError } from '../to-error.js'

interface Waiting {
  readonly apply: () => void
  readonly reject: (error: Error) => void
  /** False for a `drained()` marker, which takes no room. */
  readonly needsRoom: boolean
  /** Key plus encoded value length (0 for a marker). */
  readonly bytes: number
}

/** How many entries and bytes are unflushed now (waiting in the tier, and in flight). */
export interface BacklogSize {
  entries(): number
  bytes(): number
}

/**
 * The cache's `BacklogSize`: what waits in the tier plus what is in flight. A class rather than
 * two closures: every write asks it (`canApplyNow`), and V8 inlines a method for every cache in
 * the process, where closures made per cache are a new call target each time, called for real
 * once a second cache (a test, a benchmark, a reopen) has run.
 */
export class Unflushed implements BacklogSize {
  constructor(
    private readonly tier: { readonly waiting: number; readonly waitingBytes: number },
    private readonly flights: { readonly opsInFlight: number; readonly bytesInFlight: number },
  ) {}

  entries(): number {
    return this.tier.waiting + this.flights.opsInFlight
  }

  bytes(): number {
    return this.tier.waitingBytes + this.flights.bytesInFlight
  }
}

export interface BacklogLimits {
  readonly maxEntries: number
  readonly maxBytes: number
  readonly maxWaiting: number
  readonly whenFull: NonNullable<BacklogOptions['whenFull']>
}

/** How a write that found the backlog full can go on (see `Backpressure.whenFull`). */
export interface FullPaths {
  /** Applies the write at its own level (once admitted). */
  readonly apply: () => Promise<void>
  /** Applies it as a write-through. */
  readonly applyThroughStore: () => Promise<void>
  /** Whether the store takes writes now (the circuit is closed). */
  readonly storeUp: boolean
  /** Asks for a flush, to make room. */
  readonly pump: () => void
}

export class Backpressure {
  private queue: Waiting[] = []
  private head = 0
  private writes = 0
  private byteCount = 0
  private fullEpisode = false
  private highWater = 0

  constructor(
    private readonly size: BacklogSize,
    private readonly limits: BacklogLimits,
    /** Called once per full episode (until the backlog is below its cap again). */
    private readonly onFull: (entries: number, bytes: number) => void,
  ) {}

  /**
   * A write found the backlog full: `backlog.whenFull` decides. `reject` refuses it; `store` writes
   * it through (unless the store is failing); `wait` queues it, `bytes` its size (refused past the
   * waiting bound), to be applied in arrival order as flushes make room.
   */
  whenFull(bytes: number, paths: FullPaths): Promise<void> {
    this.noteFull()
    switch (this.limits.whenFull) {
      case 'reject':
        return Promise.reject(new BacklogFullError(this.size.entries(), this.size.bytes()))
      case 'store':
        if (!paths.storeUp) return Promise.reject(new StoreUnavailableError('the backlog is full and the store is failing'))
        return paths.applyThroughStore()
      case 'wait': {
        if (!this.hasRoomFor(bytes)) return Promise.reject(new BacklogFullError(this.size.entries(), this.size.bytes(), this.waiting))
        const admitted = this.enqueue(paths.apply, bytes)
        this.release()
        paths.pump()
        return admitted
      }
    }
  }

  /** The most unflushed entries seen (updated as writes land and flights end). */
  get highWaterEntries(): number {
    return Math.max(this.highWater, this.size.entries())
  }

  isFull(): boolean {
    return this.size.entries() >= this.limits.maxEntries || this.size.bytes() >= this.limits.maxBytes
  }

  /** After a write: keeps the high-water mark of waiting entries. */
  noteWaiting(waiting: number): void {
    if (waiting > this.highWater) this.highWater = waiting
  }

  /** A write found the backlog full: `backlog:full`, once per episode. */
  noteFull(): void {
    if (this.fullEpisode) return
    this.fullEpisode = true
    this.onFull(this.size.entries(), this.size.bytes())
  }

  /** A flight ended: room may have been made. Admits waiting writes; ends the full episode. */
  roomMade(): void {
    const entries = this.size.entries()
    if (entries > this.highWater) this.highWater = entries
    this.release()
    if (!this.isFull()) this.fullEpisode = false
  }

  /** Writes waiting for room. */
  get waiting(): number {
    return this.writes
  }

  /** Bytes of the keys and values waiting. */
  get waitingBytes(): number {
    return this.byteCount
  }

  /** Whether a write of `bytes` may join the queue (one always may when none waits). */
  hasRoomFor(bytes: number): boolean {
    if (this.writes === 0) return true
    return this.writes < this.limits.maxWaiting && this.byteCount + bytes <= this.limits.maxBytes
  }

  /** True when a write may be applied at once. */
  canApplyNow(): boolean {
    return this.head === this.queue.length && !this.isFull()
  }

  /** Queues `apply`; the returned promise follows the promise `apply` returns once admitted. */
  enqueue(apply: () => Promise<void>, bytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const run = (): void => {
        try {
          apply().then(resolve, reject)
        } catch (error) {
          reject(toError(error))
        }
      }
      this.queue.push({ apply: run, reject, needsRoom: true, bytes })
      this.writes++
      this.byteCount += bytes
    })
  }

  /** Resolves once every write waiting now has been admitted (at once when none waits). */
  drained(): Promise<void> {
    if (this.head === this.queue.length) return Promise.resolve()
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ apply: resolve, reject, needsRoom: false, bytes: 0 })
    })
  }

  /** Admits waiting writes, oldest first, while there is room. */
  release(): void {
    while (this.head < this.queue.length) {
      const next = this.queue[this.head] as Waiting
      if (next.needsRoom && this.isFull()) break
      this.queue[this.head++] = undefined as unknown as Waiting
      if (next.needsRoom) {
        this.writes--
        this.byteCount -= next.bytes
      }
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
    this.writes = 0
    this.byteCount = 0
    for (const w of rest) w.reject(error)
  }
}
