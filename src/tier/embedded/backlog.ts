/**
 * The backlog: unflushed writes not yet taken into a batch. Two modes, one interface:
 *
 * - `CoalescingBacklog` (the default) keeps one dirty ENTRY per key, in the order of its first
 *   unflushed write. A batch takes the latest value of the oldest dirty keys, so N writes to one
 *   key between flushes cost one store op, and a hot key is never starved (it keeps its place).
 * - `OrderedBacklog` (`coalesce: false`) keeps every write as its own op, in version order, and
 *   flushes them all, in order.
 *
 * Both give out ops oldest first and never a key that is `busy` (in a batch in flight), which is
 * how one key never sits in two in-flight batches. Both are ordered by version, so the front also
 * holds the lowest unflushed version: what the checkpoint's low-water mark needs.
 *
 * Global order (`flush.order: 'global'`): a batch is the next RANGE of versions, in version order
 * (`DirtyTier.take`). The ordered backlog's queue already is. The coalescing one keeps a key where
 * it was first dirtied but holds only its latest value: a key dirtied at v1 and rewritten at v3,
 * with another key written at v2, cannot go at v1's place (v3 would land before v2) nor alone
 * after v2 (v2 would land while the store lacks v1). So a batch takes the oldest entries and then
 * every entry first dirtied at or below the highest version taken, and sorts them: coalescing
 * happens only inside one batch, which the SQL stores commit as one transaction.
 */
import type { Codec } from '../../contracts/codec.js'
import type { CoarseClock } from './coarse-clock.js'
import { EntryList } from './entry-list.js'
import type { Entry, Undo } from './memory-tier.js'
import { opFor, type PendingOp } from '../../flush/pending-op.js'

export interface Backlog {
  /** True for the coalescing backlog (one op per dirty key), false for the ordered one. */
  readonly coalescing: boolean
  /** Unflushed writes waiting for a batch (dirty keys, or queued ops). */
  readonly size: number
  readonly bytes: number
  /**
   * Records a write just applied to `entry`; `sizeDelta` is how much it changed the entry's size;
   * `revocable` when a log failure may still reject it (durability `log`/`disk`, record unwritten).
   */
  record(entry: Entry, sizeDelta: number, revocable?: boolean): void
  /** Puts `entry`'s dirty state back to `undo` (before the memory tier reverts its value). */
  revert(entry: Entry, undo: Undo): void
  /** Drops every revocable op above `version` (ops kept per write; the coalescing backlog has none). */
  dropRevoked(version: number): void
  /** Takes up to `max` ops, oldest first, skipping busy keys; `urgent` keys go first when given. */
  take(max: number, busy: ReadonlySet<string>, urgent?: ReadonlyMap<string, unknown>): PendingOp[]
  /** Clock time of the oldest waiting write, or undefined when empty. */
  oldestSince(): number | undefined
  /** The lowest version waiting, or undefined when empty. */
  lowestVersion(): number | undefined
  /** The keys waiting (a key may repeat with `coalesce: false`). */
  keys(): Iterable<string>
}

export class CoalescingBacklog implements Backlog {
  /** Dirty entries in the order of their first unflushed write (an intrusive list: no hashing). */
  private readonly dirty = new EntryList<Entry>()
  private byteCount = 0
  readonly coalescing = true

  constructor(
    private readonly codec: Codec,
    private readonly clock: CoarseClock,
    /** The memory tier's lookup, for urgent keys. */
    private readonly lookup: (key: string) => Entry | undefined,
    /** `'global'`: `take` gives ranges of versions (see the header). */
    private readonly order: 'key' | 'global' = 'key',
  ) {}

  get size(): number {
    return this.dirty.size
  }

  get bytes(): number {
    return this.byteCount
  }

  record(entry: Entry, sizeDelta: number): void {
    if (entry.dirtySince !== 0) {
      this.byteCount += sizeDelta
      return
    }
    entry.dirtySince = this.clock.now()
    entry.dirtyVersion = entry.version
    this.dirty.push(entry)
    this.byteCount += entry.size
  }

  revert(entry: Entry, undo: Undo): void {
    if (entry.dirtySince === 0) return
    if (undo.encoded === undefined || undo.dirtySince === 0) {
      this.dirty.remove(entry)
      this.byteCount -= entry.size
      entry.dirtySince = 0
      return
    }
    // Dirty before as now: it keeps its place (the list's order is the low-water mark's).
    this.byteCount += entry.key.length + (undo.encoded === null ? 0 : undo.encoded.length) - entry.size
    entry.dirtyVersion = undo.dirtyVersion
  }

  dropRevoked(): void {}

  take(max: number, busy: ReadonlySet<string>, urgent?: ReadonlyMap<string, unknown>): PendingOp[] {
    if (this.order === 'global') return this.takeRange(max, busy)
    const ops: PendingOp[] = []
    if (urgent !== undefined) {
      for (const key of urgent.keys()) {
        if (ops.length >= max) return ops
        const entry = this.lookup(key)
        if (entry !== undefined && entry.list === this.dirty && !busy.has(key)) ops.push(this.takeEntry(entry))
      }
    }
    let entry = this.dirty.head
    while (entry !== undefined && ops.length < max) {
      const next = entry.next
      if (busy.size === 0 || !busy.has(entry.key)) ops.push(this.takeEntry(entry))
      entry = next
    }
    return ops
  }

  oldestSince(): number | undefined {
    return this.dirty.head?.dirtySince
  }

  lowestVersion(): number | undefined {
    return this.dirty.head?.dirtyVersion
  }

  *keys(): Iterable<string> {
    for (const entry of this.dirty) yield entry.key
  }

  /**
   * Global order: the oldest `max` entries, then every entry first dirtied at or below the highest
   * version taken (their earlier writes are in the range but only their latest value is kept), in
   * version order. Stops at a busy key rather than pass it (the pipeline takes in global order only
   * with no flight out, so none is busy).
   */
  private takeRange(max: number, busy: ReadonlySet<string>): PendingOp[] {
    const ops: PendingOp[] = []
    let upTo = 0
    let entry = this.dirty.head
    while (entry !== undefined && (ops.length < max || entry.dirtyVersion <= upTo) && !busy.has(entry.key)) {
      const next = entry.next
      if (entry.version > upTo) upTo = entry.version
      ops.push(this.takeEntry(entry))
      entry = next
    }
    return ops.sort(byVersion)
  }

  private takeEntry(entry: Entry): PendingOp {
    const op = opFor(entry, entry.dirtySince, this.codec)
    this.dirty.remove(entry)
    this.byteCount -= entry.size
    entry.dirtySince = 0
    return op
  }
}

function byVersion(a: PendingOp, b: PendingOp): number {
  return a.version - b.version
}

export class OrderedBacklog implements Backlog {
  private queue: PendingOp[] = []
  private head = 0
  private byteCount = 0
  readonly coalescing = false

  constructor(
    private readonly codec: Codec,
    private readonly clock: CoarseClock,
  ) {}

  get size(): number {
    return this.queue.length - this.head
  }

  get bytes(): number {
    return this.byteCount
  }

  record(entry: Entry, _sizeDelta: number, revocable = false): void {
    const op = opFor(entry, this.clock.now(), this.codec)
    op.revocable = revocable
    this.queue.push(op)
    this.byteCount += op.size
  }

  revert(): void {}

  dropRevoked(version: number): void {
    const kept: PendingOp[] = []
    for (let i = this.head; i < this.queue.length; i++) {
      const op = this.queue[i] as PendingOp
      if (op.revocable && op.version > version) this.byteCount -= op.size
      else kept.push(op)
    }
    this.queue = kept
    this.head = 0
  }

  /** Ops in queue order; an op whose key is busy stays, and so do the later ops of that key. */
  take(max: number, busy: ReadonlySet<string>): PendingOp[] {
    const ops: PendingOp[] = []
    const kept: PendingOp[] = []
    let i = this.head
    for (; i < this.queue.length && ops.length < max; i++) {
      const op = this.queue[i] as PendingOp
      if (busy.has(op.key)) kept.push(op)
      else ops.push(op)
    }
    for (const op of ops) this.byteCount -= op.size
    this.compact(i, kept)
    return ops
  }

  oldestSince(): number | undefined {
    return this.queue[this.head]?.since
  }

  lowestVersion(): number | undefined {
    return this.queue[this.head]?.version
  }

  *keys(): Iterable<string> {
    for (let i = this.head; i < this.queue.length; i++) yield (this.queue[i] as PendingOp).key
  }

  private compact(consumedTo: number, kept: PendingOp[]): void {
    if (kept.length > 0) {
      this.queue = kept.concat(this.queue.slice(consumedTo))
      this.head = 0
    } else {
      this.head = consumedTo
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head)
        this.head = 0
      }
    }
  }
}
