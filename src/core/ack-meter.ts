/**
 * Ack latency: how long each caller waited for its write, per durability level, from the call to
 * its acknowledgement (`stats().ack`), and the `writebehind:write` channel. The facade asks
 * `start(durability)` once a write passed its door checks and hands its acknowledgement to
 * `track`: a write acknowledged within its call (the shared resolved promise) is recorded at
 * once, any other when its promise settles.
 *
 * A clock read is a quarter of a `memory` write on some machines (tens of ns in a VM), so a
 * `memory` write is timed only when it has to be: one that waits (for room in the backlog, or
 * falls back to the store) is timed from the moment it starts waiting, one acknowledged within
 * its call is recorded as 0 ms (its caller never waited: the cost is the call's own, microseconds,
 * below the first bucket) unless the write channel has a subscriber, which then gets the call's
 * real duration. Every other level is timed from after the door checks, with `performance.now()`
 * (monotonic: never negative, whatever the injected clock does). So with nobody subscribed a
 * `memory` write costs one `hasSubscribers` check and one histogram record; another level one
 * clock read more, and a `then` on its promise.
 *
 * Failed writes (rejected: backlog full, store unavailable, the log failed, superseded, dead-
 * lettered, closed while waiting) are published with `ok: false` but not recorded: the histogram
 * says how long acknowledged writes waited, and a burst of fast refusals would hide a slow store.
 * A call refused at the door (a bad key, value or option, a closed cache) is not a write: it is
 * neither recorded nor published.
 */
import type { WriteOp } from '../contracts/diagnostics.js'
import type { Durability } from '../contracts/options.js'
import type { LatencySummary } from '../contracts/stats.js'
import { writeChannel, type Diagnostics } from '../diagnostics/channels.js'
import { Histogram } from '../diagnostics/histogram.js'

/** `start`'s answer for a write not timed (yet). */
const UNTIMED = -1

export class AckMeter {
  /** One histogram per level; recorded here only. */
  private readonly levels: Record<Durability, Histogram> = { memory: new Histogram(), log: new Histogram(), disk: new Histogram(), replicated: new Histogram(), store: new Histogram() }
  /** `memory` writes acknowledged within their call and not timed, not yet added to `levels.memory` (see `summaries`). */
  private untimedZeros = 0

  constructor(
    private readonly diagnostics: Diagnostics,
    /** The promise a synchronous ack returns: seeing it, the write is acknowledged already. */
    private readonly resolved: Promise<void>,
  ) {}

  /** When a write at `durability` begins (`performance.now()`), or `UNTIMED` for a `memory` write nobody listens to. */
  start(durability: Durability): number {
    return durability !== 'memory' || writeChannel.hasSubscribers ? performance.now() : UNTIMED
  }

  /** Measures the write whose acknowledgement is `ack`, begun at `started` (from `start`); returns `ack`. */
  track<T>(op: WriteOp, key: string, durability: Durability, started: number, ack: Promise<T>): Promise<T> {
    if (ack === (this.resolved as Promise<unknown>)) {
      // The common case, a `memory` write nobody listened to when it started: recorded as 0 ms.
      if (started === UNTIMED) this.untimed(op, key)
      else this.acked(op, key, durability, started, true)
      return ack
    }
    this.whenSettled(op, key, durability, started, ack)
    return ack
  }

  /** `track` of a write not acknowledged within its call: recorded when `ack` settles. Out of line: `track` is inlined into every write. */
  private whenSettled(op: WriteOp, key: string, durability: Durability, started: number, ack: Promise<unknown>): void {
    const from = started === UNTIMED ? performance.now() : started // a memory write that waits: timed from here
    ack.then(
      () => this.acked(op, key, durability, from, true),
      () => this.acked(op, key, durability, from, false),
    )
  }

  /**
   * `track` for one pass of a merge through the write path (`increment`, `max`, `min`): it counts
   * only once the merge was applied (`merge.value` set); a pass that found the key gone from the
   * cache resolves unapplied, and the merge comes again after reading the key.
   */
  trackMerge(key: string, durability: Durability, merge: { readonly started: number; readonly value: number | undefined }, ack: Promise<void>): Promise<void> {
    if (ack === this.resolved) {
      if (merge.value !== undefined) this.acked('merge', key, durability, merge.started, true)
      return ack
    }
    const from = merge.started === UNTIMED ? performance.now() : merge.started
    ack.then(
      () => {
        if (merge.value !== undefined) this.acked('merge', key, durability, from, true)
      },
      () => this.acked('merge', key, durability, from, false),
    )
    return ack
  }

  summaries(): { [level in Durability]: LatencySummary } {
    const { memory, log, disk, replicated, store } = this.levels
    memory.recordZeros(this.untimedZeros)
    this.untimedZeros = 0
    return { memory: memory.summary(), log: log.summary(), disk: disk.summary(), replicated: replicated.summary(), store: store.summary() }
  }

  /**
   * `acked` of a `memory` write acknowledged within its call, not timed (see the header): a count,
   * folded into the histogram when it is read, and a message only when someone listens. The
   * common case of every write, so it is kept to a few instructions V8 inlines into `set`.
   */
  private untimed(op: WriteOp, key: string): void {
    this.untimedZeros++
    if (writeChannel.hasSubscribers) this.publishUntimed(op, key)
  }

  private publishUntimed(op: WriteOp, key: string): void {
    this.diagnostics.write(op, key, 'memory', 0, true)
  }

  /**
   * A write begun at `started` (from `start`, or `performance.now()`) settled now: recorded when
   * `ok`, published either way. For a caller that awaits its own acknowledgement (the Redis tier's
   * write path), where `track`'s `then` on it would be a second promise per write.
   */
  acked(op: WriteOp, key: string, durability: Durability, started: number, ok: boolean): void {
    const durationMs = started === UNTIMED ? 0 : performance.now() - started
    if (ok) this.levels[durability].record(durationMs)
    this.diagnostics.write(op, key, durability, durationMs, ok)
  }
}
