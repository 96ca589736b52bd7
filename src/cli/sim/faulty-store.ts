/**
 * A store wrapper for the simulator's store faults: while `down`, every call fails retryably (as a
 * stopped server would); `delayMs` is added to every call (a slow server); `poisonShare` of the
 * ops in each batch are refused as bad data (not retryable, so they are dead-lettered). The faults
 * are switched by the parent while the child runs; the wrapped store is otherwise untouched.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { BatchResult, LoadedEntry, OpFailure, Store, StoreOp } from '../../contracts/store.js'
import { StoreError } from '../../errors.js'
import type { StoreFaults } from './protocol.js'

export const NO_FAULTS: StoreFaults = Object.freeze({ down: false, delayMs: 0, poisonShare: 0 })

export class FaultyStore implements Store {
  /** The faults now; replaced whole by the parent's `faults` message. */
  faults: StoreFaults = NO_FAULTS

  constructor(
    private readonly inner: Store,
    private readonly random: () => number,
  ) {}

  async writeBatch(ops: readonly StoreOp[]): Promise<BatchResult | void> {
    await this.before()
    const poisoned = this.poisoned(ops)
    if (poisoned.size === 0) return this.inner.writeBatch(ops)
    const healthy = ops.filter((_, index) => !poisoned.has(index))
    const result = healthy.length === 0 ? undefined : await this.inner.writeBatch(healthy)
    const failures: OpFailure[] = [...poisoned].map((index) => ({
      index,
      error: new StoreError('simulated poison: the store refused this row as bad data', { retryable: false }),
    }))
    // Failures and superseded ops of the healthy ops point into `healthy`: map them back.
    const original = ops.map((_, index) => index).filter((index) => !poisoned.has(index))
    for (const failure of result?.failures ?? []) failures.push({ index: original[failure.index] as number, error: failure.error })
    const superseded = result?.superseded?.map((op) => ({ ...op, index: original[op.index] as number }))
    return { failures, ...(result?.fenced === undefined ? {} : { fenced: result.fenced }), ...(superseded === undefined ? {} : { superseded }) }
  }

  async load(keys: readonly string[]): Promise<Map<string, LoadedEntry>> {
    await this.before()
    return this.inner.load(keys)
  }

  async ping(): Promise<void> {
    await this.before()
    await this.inner.ping?.()
  }

  async check(): Promise<void> {
    await this.before()
    await (this.inner.check ?? this.inner.ping)?.call(this.inner)
  }

  async highestVersion(): Promise<number> {
    return (await this.inner.highestVersion?.()) ?? 0
  }

  async close(): Promise<void> {
    await this.inner.close?.()
  }

  private async before(): Promise<void> {
    const { delayMs, down } = this.faults
    if (delayMs > 0) await sleep(delayMs)
    if (down) throw new StoreError('simulated outage: the store is stopped', { retryable: true })
  }

  private poisoned(ops: readonly StoreOp[]): Set<number> {
    const share = this.faults.poisonShare
    const set = new Set<number>()
    if (share <= 0) return set
    for (let index = 0; index < ops.length; index++) if (this.random() < share) set.add(index)
    return set
  }
}
