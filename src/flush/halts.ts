/**
 * Global order's halted writes (`flush.order: 'global'`): ops that key order would dead-letter,
 * held instead so that nothing lands past them (see flusher.ts). Owns which ops in flights are
 * halted, with their errors, and which of them an operator chose to skip (`skipHalted`). Changed
 * only by the flusher; it leaves out what is done with them (held, retried, dead-lettered).
 *
 * A halted write is never skipped by itself, silently: the gap it would leave in the store could
 * not be seen by a reader of the store, an audit trail or an event consumer.
 */
import type { PendingOp } from './pending-op.js'

export class Halts {
  private readonly halted = new Map<PendingOp, Error>()
  private readonly skipping = new Set<PendingOp>()

  constructor(
    /** Told once per op, the first time it is halted. */
    private readonly onHalt: (op: PendingOp, error: Error) => void,
  ) {}

  /** Halted ops in flights now. */
  get size(): number {
    return this.halted.size
  }

  /** Marks `ops` halted by `error`; each is reported the first time. */
  add(ops: readonly PendingOp[], error: Error): void {
    for (const op of ops) {
      if (this.halted.has(op)) continue
      this.halted.set(op, error)
      this.onHalt(op, error)
    }
  }

  has(op: PendingOp): boolean {
    return this.halted.has(op)
  }

  /** Every op halted now is to be skipped; returns how many are. */
  skipAll(): number {
    for (const op of this.halted.keys()) this.skipping.add(op)
    return this.skipping.size
  }

  /** The ops of `ops` chosen to be skipped, each with the error that halted it (none when nothing is). */
  chosen(ops: readonly PendingOp[]): Array<[PendingOp, Error]> {
    if (this.skipping.size === 0) return []
    const out: Array<[PendingOp, Error]> = []
    for (const op of ops) {
      const error = this.halted.get(op)
      if (error !== undefined && this.skipping.has(op)) out.push([op, error])
    }
    return out
  }

  /** Forgets `ops` (skipped, or their flight ended). */
  forget(ops: readonly PendingOp[]): void {
    if (this.halted.size === 0) return
    for (const op of ops) {
      this.halted.delete(op)
      this.skipping.delete(op)
    }
  }
}
