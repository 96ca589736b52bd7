/**
 * The flusher's ledger of flights: which keys are in a flight (`busy`, so no key is ever in two),
 * how many ops and bytes are in flight (backpressure counts them), the lowest version and oldest
 * write in flight (the low-water mark and the lag), which flights hold refused writes, and the
 * ops `stop()` left unsettled. Changed only by the flusher; read by the scheduler and the engine.
 */
import type { PendingOp } from './pending-op.js'

export interface Flight {
  /** The lowest version whose log record an op of the flight needs (`PendingOp.first`). */
  readonly minVersion: number
  readonly oldestSince: number
  ops: number
  bytes: number
  /** True once the flight holds refused writes (no proof yet that the store is healthy). */
  suspect: boolean
  /** Held ops dropped because a newer write of their key replaced them (their keys already freed). */
  replaced?: Set<PendingOp>
}

export class Flights {
  /** Keys in a flight. */
  readonly busy = new Set<string>()
  private readonly open = new Set<Flight>()
  private suspects = 0
  private ops = 0
  private bytes = 0
  /** Ops left unsettled by `stop()` (still safe in the log, where there is one). */
  readonly abandoned: PendingOp[] = []
  private abandonedBytes = 0

  get count(): number {
    return this.open.size
  }

  /** Flights holding refused writes (waiting for proof that the store is healthy). */
  get held(): number {
    return this.suspects
  }

  /** Flights not holding refused writes. */
  get active(): number {
    return this.open.size - this.suspects
  }

  /** Ops in flights, and ops left unsettled (kept as a running sum: it is read on every write). */
  get opsInFlight(): number {
    return this.ops + this.abandoned.length
  }

  get bytesInFlight(): number {
    return this.bytes + this.abandonedBytes
  }

  /** Opens a flight for `ops` (none of them busy): their keys are busy until it closes. */
  begin(ops: readonly PendingOp[]): Flight {
    let bytes = 0
    let minVersion = Infinity
    let oldestSince = Infinity
    for (const op of ops) {
      bytes += op.size
      if (op.first < minVersion) minVersion = op.first
      if (op.since < oldestSince) oldestSince = op.since
      this.busy.add(op.key)
    }
    const flight: Flight = { minVersion, oldestSince, ops: ops.length, bytes, suspect: false }
    this.open.add(flight)
    this.ops += flight.ops
    this.bytes += flight.bytes
    return flight
  }

  /** Closes a flight: its remaining ops stop counting and its keys are free again. */
  end(flight: Flight, ops: readonly PendingOp[]): void {
    this.open.delete(flight)
    if (flight.suspect) this.suspects--
    this.ops -= flight.ops
    this.bytes -= flight.bytes
    for (const op of ops) if (flight.replaced?.has(op) !== true) this.busy.delete(op.key)
  }

  /** Settled ops stop counting as in flight (the flight's low-water mark stays put until it ends). */
  settled(flight: Flight, ops: readonly PendingOp[]): void {
    for (const op of ops) {
      flight.ops--
      flight.bytes -= op.size
      this.ops--
      this.bytes -= op.size
    }
  }

  /** Marks the flight as holding refused writes; true the first time. */
  suspect(flight: Flight): boolean {
    if (flight.suspect) return false
    flight.suspect = true
    this.suspects++
    return true
  }

  /** A held op replaced by a newer write of its key: settled, and its key freed now. */
  replace(flight: Flight, op: PendingOp): void {
    this.busy.delete(op.key)
    ;(flight.replaced ??= new Set()).add(op)
    this.settled(flight, [op])
  }

  abandon(ops: readonly PendingOp[]): void {
    for (const op of ops) {
      this.abandoned.push(op)
      this.abandonedBytes += op.size
    }
  }

  /** The lowest version in any flight (conservative: fixed when the flight starts), or left unsettled. */
  lowestVersion(): number | undefined {
    let low: number | undefined
    for (const f of this.open) if (low === undefined || f.minVersion < low) low = f.minVersion
    for (const op of this.abandoned) if (low === undefined || op.version < low) low = op.version
    return low
  }

  /** Clock time of the oldest write in any flight, or left unsettled. */
  oldestSince(): number | undefined {
    let old: number | undefined
    for (const f of this.open) if (old === undefined || f.oldestSince < old) old = f.oldestSince
    for (const op of this.abandoned) if (old === undefined || op.since < old) old = op.since
    return old
  }
}
