/**
 * An unflushed op as the flush pipeline carries it: the `StoreOp` a store sees, plus the pipeline's
 * own bookkeeping (when the write became dirty, failed attempts, the lowest version whose log
 * record it needs). The decoded `value` is computed only if a store asks for it.
 */
import type { Codec } from '../contracts/codec.js'
import type { MergeKind, StoreDeleteOp, StoreMergeOp, StoreSetOp } from '../contracts/store.js'

/** What the pipeline may read of a tier's record of a key. */
export interface TierEntry {
  /** The key's latest version. */
  readonly version: number
  /**
   * Set while the key's writes since its last op was taken are merges (a delta, not the whole
   * value): such writes do not replace an earlier op of the key, which must still reach the store.
   */
  readonly merge?: MergeKind | undefined
}

abstract class PendingBase {
  /** Failed attempts so far (retryable failures while the circuit was closed). */
  attempts = 0
  firstFailedAt = 0
  /** The flusher's proof count (batches that applied ops) when this op first failed; -1 before. */
  failingSinceProof = -1
  /** The flusher's proof count at this op's last permanent refusal; -1 before. */
  refusedAtProof = -1
  /**
   * A dead letter being replayed: it was dead-lettered with proof before, so a failure puts it
   * back in the queue without waiting for new proof (nothing is lost: it is still a letter).
   */
  redelivery = false
  /**
   * The tier's record of the key this op was taken from (the embedded tier: its memory-tier entry,
   * which stays the key's live entry while the op is in flight). Its `version` moving past the
   * op's means the key was written again since. Saves the tier a lookup per flushed op.
   */
  entry: TierEntry | undefined = undefined
  /** Set (by the ordered backlog) while a log failure may still reject the write this op carries. */
  revocable = false
  /**
   * The lowest version whose log record this op needs to be rebuilt after a crash (a merge op
   * needs every merge it sums; a set that merges were folded into needs the set): the log's
   * checkpoint stays below it while the op is in flight. The op's own version unless said.
   */
  first: number

  constructor(
    readonly key: string,
    readonly version: number,
    /** Clock time of the first unflushed write this op carries. */
    readonly since: number,
  ) {
    this.first = version
  }

  /** Key plus value length, as the backlog counts bytes. */
  abstract get size(): number
}

export class PendingSet extends PendingBase implements StoreSetOp {
  readonly kind = 'set' as const
  private decoded: { value: unknown } | undefined

  constructor(
    key: string,
    version: number,
    since: number,
    readonly encoded: string,
    private readonly codec: Codec,
  ) {
    super(key, version, since)
  }

  get value(): unknown {
    this.decoded ??= { value: this.codec.decode(this.encoded) }
    return this.decoded.value
  }

  get size(): number {
    return this.key.length + this.encoded.length
  }
}

export class PendingDelete extends PendingBase implements StoreDeleteOp {
  readonly kind = 'delete' as const

  get size(): number {
    return this.key.length
  }
}

/**
 * A merge write (`increment`, `max`, `min`), or several of one key combined: the store combines
 * `operand` with the number it holds. A `sum` op covers exactly the increments since the key's
 * previous op (see `StoreMergeOp` on exactly once).
 */
export class PendingMerge extends PendingBase implements StoreMergeOp {
  readonly kind = 'merge' as const

  constructor(
    key: string,
    version: number,
    since: number,
    readonly merge: MergeKind,
    readonly operand: number,
    /** The key's value after this op as the cache saw it, encoded (what a dead letter serves). */
    readonly result: string,
  ) {
    super(key, version, since)
  }

  get size(): number {
    return this.key.length + this.result.length
  }
}

export type PendingOp = PendingSet | PendingDelete | PendingMerge

/** The op that flushes an entry's current value; `first` is the lowest version it needs (its own by default). */
export function opFor(entry: TierEntry & { readonly key: string; readonly encoded: string | null }, since: number, codec: Codec, first = entry.version): PendingOp {
  const op = entry.encoded === null ? new PendingDelete(entry.key, entry.version, since) : new PendingSet(entry.key, entry.version, since, entry.encoded, codec)
  op.entry = entry
  op.first = first
  return op
}

/** A merge's kind and operand, as a log record or a dead letter keeps them. */
export interface MergeFields {
  readonly merge: MergeKind
  readonly operand: number
}

/**
 * Rebuilds an op from stored fields (log replay, dead-letter replay): a merge when `merge` is given
 * (`encoded` is then the value after it), else a set, or a delete when `encoded` is null.
 */
export function opFromRecord(key: string, version: number, encoded: string | null, since: number, codec: Codec, merge?: MergeFields): PendingOp {
  if (merge !== undefined && encoded !== null) return new PendingMerge(key, version, since, merge.merge, merge.operand, encoded)
  return encoded === null ? new PendingDelete(key, version, since) : new PendingSet(key, version, since, encoded, codec)
}
