/**
 * An unflushed op as the flush pipeline carries it: the `StoreOp` a store sees, plus the pipeline's
 * own bookkeeping (when the write became dirty, failed attempts). The decoded `value` is computed
 * only if a store asks for it.
 */
import type { Codec } from '../contracts/codec.js'
import type { StoreDeleteOp, StoreSetOp } from '../contracts/store.js'

/** What the pipeline may read of a tier's record of a key: its latest version. */
export interface TierEntry {
  readonly version: number
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

  constructor(
    readonly key: string,
    readonly version: number,
    /** Clock time of the first unflushed write this op carries. */
    readonly since: number,
  ) {}

  /** Key plus value length, as the backlog counts bytes. */
  abstract get size(): number
}

export class PendingSet extends PendingBase implements StoreSetOp {
  readonly kind = 'set' as const
  private decoded: { value: unknown } | undefined

  constructor(key: string, version: number, since: number, readonly encoded: string, private readonly codec: Codec) {
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

export type PendingOp = PendingSet | PendingDelete

/** The op that flushes an entry's current value. */
export function opFor(entry: TierEntry & { readonly key: string; readonly encoded: string | null }, since: number, codec: Codec): PendingOp {
  const op = entry.encoded === null ? new PendingDelete(entry.key, entry.version, since) : new PendingSet(entry.key, entry.version, since, entry.encoded, codec)
  op.entry = entry
  return op
}

/** Rebuilds an op from stored fields (log replay, dead-letter replay). */
export function opFromRecord(key: string, version: number, encoded: string | null, since: number, codec: Codec): PendingOp {
  return encoded === null ? new PendingDelete(key, version, since) : new PendingSet(key, version, since, encoded, codec)
}
