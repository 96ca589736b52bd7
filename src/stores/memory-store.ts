/**
 * MemoryStore: a Store kept in a Map, for tests, demos and as the reference model of the Store
 * contract. It fences by version and keeps versioned tombstones exactly like the SQL stores, and
 * counts what it saw so tests can assert on batches, ops, applied and fenced writes.
 * Nothing survives the process: it is not a durable store. It applies merge ops (`sum`, `max`,
 * `min`) the way the contract asks of every store: fenced like any op, on a missing or tombstoned
 * row starting from the operand, failing alone (permanently) on a stored value that is not a number.
 */
import type { BatchResult, LoadedEntry, MergeKind, OpFailure, Store, StoreMergeOp, StoreOp, SupersededOp } from '../contracts/store.js'
import { StoreError } from '../errors.js'

interface Row {
  readonly version: number
  /** The encoded value; `undefined` for a tombstone. */
  readonly encoded: string | undefined
}

/** Counters of what a MemoryStore received since it was created. */
export interface MemoryStoreCounters {
  /** `writeBatch` calls. */
  readonly batches: number
  /** Ops received over all batches. */
  readonly ops: number
  /** Ops that changed the stored state (newer than what was held). */
  readonly applied: number
  /** Ops skipped because the store held the same or a newer version. */
  readonly fenced: number
}

export class MemoryStore implements Store {
  readonly merges: readonly MergeKind[] = ['sum', 'max', 'min']
  private readonly rows = new Map<string, Row>()
  private counts = { batches: 0, ops: 0, applied: 0, fenced: 0 }
  private highest = 0

  /**
   * Applies each op whose version is newer than the held one; older ones are fenced. A fenced op
   * is reported as `superseded` (with the held version) when the store holds a version above every
   * op of its key in the batch; one fenced only by a newer op of the same batch, or by an equal
   * version (a redelivery), counts as applied. Ops apply in batch order, each fenced on its own, so
   * several merge ops of one key in one batch (in version order) all apply.
   */
  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult> {
    this.counts.batches++
    let fenced = 0
    const fencedByHeld: Array<{ index: number; key: string; version: number }> = []
    const failures: OpFailure[] = []
    const before = new Map<string, number | undefined>()
    for (const [index, op] of ops.entries()) {
      this.counts.ops++
      const held = this.rows.get(op.key)
      if (!before.has(op.key)) before.set(op.key, held?.version)
      if (held !== undefined && held.version >= op.version) {
        fenced++
        if (held.version > op.version) fencedByHeld.push({ index, key: op.key, version: held.version })
        continue
      }
      const encoded = op.kind === 'merge' ? merged(held, op) : op.kind === 'set' ? op.encoded : undefined
      if (encoded instanceof Error) {
        failures.push({ index, error: encoded })
        continue
      }
      this.rows.set(op.key, { version: op.version, encoded })
      if (op.version > this.highest) this.highest = op.version
      this.counts.applied++
    }
    this.counts.fenced += fenced
    // Superseded only where the batch changed nothing of the key: the held version is the old one.
    const superseded: SupersededOp[] = fencedByHeld.filter((f) => this.rows.get(f.key)?.version === before.get(f.key)).map(({ index, version }) => ({ index, version }))
    return { fenced, ...(superseded.length > 0 ? { superseded } : {}), ...(failures.length > 0 ? { failures } : {}) }
  }

  /** Always usable (a Map). */
  async check(): Promise<void> {}

  /** The highest version held for any key, tombstones included (0 when empty). */
  async highestVersion(): Promise<number> {
    return this.highest
  }

  /** Returns `{ version, encoded }` for each live key; absent and tombstoned keys are left out. */
  async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    const out = new Map<string, LoadedEntry>()
    for (const key of keys) {
      const row = this.rows.get(key)
      if (row?.encoded !== undefined) out.set(key, { version: row.version, encoded: row.encoded })
    }
    return out
  }

  /** The live keys and their decoded values (tombstones left out): what a reader would see. */
  snapshot(): Map<string, unknown> {
    const out = new Map<string, unknown>()
    for (const [key, row] of this.rows) {
      if (row.encoded !== undefined) out.set(key, JSON.parse(row.encoded) as unknown)
    }
    return out
  }

  /** The version held for each of `keys`, tombstones included; keys never written are left out. */
  async versions(keys: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for (const key of keys) {
      const version = this.rows.get(key)?.version
      if (version !== undefined) out.set(key, version)
    }
    return out
  }

  /** The version held for `key`, tombstones included; `undefined` when the key was never written. */
  versionOf(key: string): number | undefined {
    return this.rows.get(key)?.version
  }

  /** A copy of the counters. */
  get counters(): MemoryStoreCounters {
    return { ...this.counts }
  }

  async close(): Promise<void> {}
}

/** The encoded value after `op` on the held row, or the op's error (a stored value that is not a number). */
function merged(held: Row | undefined, op: StoreMergeOp): string | StoreError {
  let value = op.operand
  if (held?.encoded !== undefined) {
    const stored: unknown = JSON.parse(held.encoded)
    if (typeof stored !== 'number') {
      return new StoreError(`MemoryStore: cannot ${op.merge} into "${op.key}": it holds ${held.encoded.slice(0, 40)}, not a number`, { retryable: false, scope: 'op', code: 'E_STORE_NOT_A_NUMBER' })
    }
    value = op.merge === 'sum' ? stored + op.operand : op.merge === 'max' ? Math.max(stored, op.operand) : Math.min(stored, op.operand)
  }
  if (!Number.isFinite(value)) return new StoreError(`MemoryStore: ${op.merge} into "${op.key}" gives ${value}, not a finite number`, { retryable: false, scope: 'op' })
  return JSON.stringify(value)
}
