/**
 * Ack latency: how long each caller waited for its write, per durability level, from the call to
 * its acknowledgement (`stats().ack`), and the `writebehind:write` channel. The facade hands every
 * write that passed its door checks to `track` with the time the call began; a write acknowledged
 * synchronously (durability `memory` with room in the backlog: the shared resolved promise) is
 * recorded at once, any other when its promise settles. Per write that is one `performance.now()`,
 * one histogram record and one `hasSubscribers` check (plus one `then` when the ack is async).
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
import type { Diagnostics } from '../diagnostics/channels.js'
import { Histogram } from '../diagnostics/histogram.js'

export class AckMeter {
  /** One histogram per level; recorded here only. */
  private readonly levels: Record<Durability, Histogram> = { memory: new Histogram(), log: new Histogram(), disk: new Histogram(), store: new Histogram() }

  constructor(
    private readonly diagnostics: Diagnostics,
    /** The promise a synchronous ack returns: seeing it, the write is acknowledged already. */
    private readonly resolved: Promise<void>,
  ) {}

  /** Measures the write whose acknowledgement is `ack`, begun at `started` (`performance.now()`); returns `ack`. */
  track<T>(op: WriteOp, key: string, durability: Durability, started: number, ack: Promise<T>): Promise<T> {
    if (ack === (this.resolved as Promise<unknown>)) {
      this.acked(op, key, durability, started, true)
      return ack
    }
    ack.then(
      () => this.acked(op, key, durability, started, true),
      () => this.acked(op, key, durability, started, false),
    )
    return ack
  }

  summaries(): { [level in Durability]: LatencySummary } {
    const { memory, log, disk, store } = this.levels
    return { memory: memory.summary(), log: log.summary(), disk: disk.summary(), store: store.summary() }
  }

  private acked(op: WriteOp, key: string, durability: Durability, started: number, ok: boolean): void {
    const durationMs = performance.now() - started
    if (ok) this.levels[durability].record(durationMs)
    this.diagnostics.write(op, key, durability, durationMs, ok)
  }
}
