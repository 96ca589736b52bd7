/**
 * The facade's side of `increment`, `max` and `min`: the check at the door, and the read of the
 * key's base when it is not cached. A merge is computed from the cached value when it is APPLIED
 * (in write order, after any write that waited for room before it), so the write path carries it
 * as a `MergeWrite` and the tier fills in the new value.
 *
 *   merge ─► key cached? ─ no ─► read-through (single-flight) ─► cache the value, or know it absent
 *         └► write path (backpressure) ─► tier.merge (value from the cached one) ─► ack ─► new value
 *
 * If the key leaves the cache between the read and the apply (an eviction while the write waited
 * for room, or a flushed delete), the merge reads it again.
 */
import type { LoadedEntry, MergeKind, Store } from '../contracts/store.js'
import type { Durability } from '../contracts/options.js'
import { InvalidOptionError } from '../errors.js'
import type { EmbeddedTier } from '../tier/embedded/embedded-tier.js'
import { checkNumber } from '../validate/check.js'
import type { ReadThrough } from './read-through.js'

/** A merge on its way through the write path: what to apply, and (once applied) the key's new value. */
export class MergeWrite {
  /** What a merge counts for while it waits for room (its value is not encoded yet). */
  static readonly BYTES = 24
  /** The key is known absent from the cache and the store: the merge starts from its operand. */
  absent = false
  value: number | undefined = undefined
  /** The write's ttl once the key is clean (`ttlMs`); undefined: the cache's. */
  ttlMs: number | undefined = undefined
  /** When the call began, for its ack latency (`AckMeter.start`). */
  started = 0

  private constructor(
    readonly merge: MergeKind,
    readonly operand: number,
  ) {}

  /** A merge of `operand`, checked at the door: a finite number, and a store that applies `merge` ops. */
  static checked(store: Store, operation: string, merge: MergeKind, operand: unknown): MergeWrite {
    const number = checkNumber(operand, operation === 'increment' ? 'by' : 'value', { finite: true, required: true })
    const merges = store.merges ?? []
    if (!merges.includes(merge)) {
      throw new InvalidOptionError('store', `${operation}() needs a store that applies '${merge}' merge ops; this store's merges are [${merges.join(', ')}] (Store.merges)`)
    }
    return new MergeWrite(merge, number === 0 ? 0 : number) // never -0, which JSON cannot give back
  }
}

/** What `applyMerge` needs of the cache. */
export interface MergeSteps {
  readonly tier: EmbeddedTier
  readonly reader: ReadThrough
  assertOpen(operation: string): void
  /** Caches a loaded entry unless a write got there first. */
  remember(key: string, loaded: LoadedEntry): void
  /** The write path (backpressure, then apply); resolves with the acknowledgement. */
  write(key: string, write: MergeWrite, durability: Durability): Promise<void>
}

/** Applies `write` to `key`, reading the key's base first when it is not cached; resolves with the new value. */
export async function applyMerge(steps: MergeSteps, operation: string, write: MergeWrite, key: string, durability: Durability): Promise<number> {
  const { tier, reader } = steps
  for (;;) {
    if (tier.peek(key) === undefined) {
      const [loading] = reader.loadMany([key])
      const loaded = await (loading as Promise<LoadedEntry | undefined>)
      steps.assertOpen(operation)
      if (tier.peek(key) === undefined) {
        if (reader.takeStale(key)) continue // written while the load was out: the loaded value may predate it
        if (loaded === undefined) write.absent = true
        else steps.remember(key, loaded)
      }
    }
    await steps.write(key, write, durability)
    if (write.value !== undefined) return write.value
    write.absent = false
  }
}
