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
 *
 * Merges (`recordMerge`; the rules are in merges.ts): the coalescing backlog combines a key's
 * merges into one pending merge until its op is taken; the ordered one keeps each as its op. In key
 * order, the ordered backlog never puts a merge op in a batch after another op of its key (a split
 * batch could land the later op alone, and the version fence would then drop the earlier one), and
 * both skip a merge that `held` says must wait (its key's earlier merge is dead-lettered); the
 * coalescing backlog leaves such entries out of its low-water mark and oldest age, so `flush()`
 * does not wait for them (`lowestHeld` keeps the checkpoint below them). Global order needs
 * neither: a batch never lands in part there, and it would not pass a held op.
 */
import type { Codec } from '../../contracts/codec.js'
import type { MergeKind } from '../../contracts/store.js'
import type { CoarseClock } from './coarse-clock.js'
import { EntryList } from './entry-list.js'
import { smallInt } from './entry.js'
import type { Entry, Undo } from './memory-tier.js'
import { combine, type HeldMerge } from './merges.js'
import { opFor, PendingMerge, type PendingOp } from '../../flush/pending-op.js'

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
  /** `record` of a write of the whole value (a set or a delete), which also does `unblock`: one call on the write path. */
  recordWhole(entry: Entry, sizeDelta: number, revocable: boolean): void
  /** Records a merge just applied to `entry` (its value and version are the merge's result). */
  recordMerge(entry: Entry, sizeDelta: number, merge: MergeKind, operand: number, revocable: boolean): void
  /** `entry`'s merges may go again (its key's merge letter left the queue). */
  unblock(entry: Entry): void
  /** The lowest version among merges held back, or undefined (the checkpoint stays below it). */
  lowestHeld(): number | undefined
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
  /** Dirty entries whose merge is held back (`held`); they keep their place in `dirty`. */
  private readonly blocked = new Set<Entry>()
  private byteCount = 0
  readonly coalescing = true
  /** Clock time just before the backlog started: entries' `dirtySince` counts from it (see `Entry.dirtySince`). */
  private readonly epoch: number

  constructor(
    private readonly codec: Codec,
    private readonly clock: CoarseClock,
    /** The memory tier's lookup, for urgent keys. */
    private readonly lookup: (key: string) => Entry | undefined,
    /** `'global'`: `take` gives ranges of versions (see the header). */
    private readonly order: 'key' | 'global' = 'key',
    /** Key order: merges that must wait (see the header). */
    private readonly held: HeldMerge = () => false,
  ) {
    this.epoch = clock.now() - 1
  }

  /** Now, in ms since the epoch: 1 or more (0 means not dirty), also should the clock step back before the epoch; `smallInt` for the entry's field. */
  private sinceEpoch(): number {
    const since = this.clock.now() - this.epoch
    return since >= 1 ? smallInt(since) : 1
  }

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
    entry.dirtySince = this.sinceEpoch()
    entry.dirtyLag = 0
    this.dirty.push(entry)
    this.byteCount += entry.size
  }

  recordWhole(entry: Entry, sizeDelta: number): void {
    if (this.blocked.size > 0) this.blocked.delete(entry) // as `unblock`
    if (entry.dirtySince !== 0) this.byteCount += sizeDelta
    else this.record(entry, sizeDelta)
  }

  /** A merge combines with the key's pending merge of its kind; over a whole value (or another kind) it folds into the value. */
  recordMerge(entry: Entry, sizeDelta: number, merge: MergeKind, operand: number): void {
    if (entry.dirtySince === 0) {
      entry.merge = merge
      entry.operand = operand
    } else if (entry.merge === merge) entry.operand = combine(merge, entry.operand, operand)
    else entry.merge = undefined
    this.record(entry, sizeDelta)
  }

  unblock(entry: Entry): void {
    if (this.blocked.size > 0) this.blocked.delete(entry) // every set and delete comes through here
  }

  lowestHeld(): number | undefined {
    let low: number | undefined
    for (const entry of this.blocked) if (low === undefined || entry.dirtyVersion < low) low = entry.dirtyVersion
    return low
  }

  revert(entry: Entry, undo: Undo): void {
    if (entry.dirtySince === 0) return
    if (undo.encoded === undefined || undo.dirtySince === 0) {
      this.dirty.remove(entry)
      this.blocked.delete(entry)
      this.byteCount -= entry.size
      entry.dirtySince = 0
      return
    }
    // Dirty before as now: it keeps its place (the list's order is the low-water mark's).
    this.byteCount += entry.key.length + (undo.encoded === null ? 0 : undo.encoded.length) - entry.size
    entry.dirtyLag = smallInt(entry.version - undo.dirtyVersion) // the memory tier's revert of the version keeps it
  }

  dropRevoked(): void {}

  take(max: number, busy: ReadonlySet<string>, urgent?: ReadonlyMap<string, unknown>): PendingOp[] {
    if (this.order === 'global') return this.takeRange(max, busy)
    const ops: PendingOp[] = []
    // An entry whose replayed sealed group was taken stays dirty (its rest waits): not twice in one batch.
    let stayed: Set<Entry> | undefined
    const take = (entry: Entry): void => {
      const op = this.takeEntry(entry)
      if (entry.list === this.dirty) (stayed ??= new Set()).add(entry)
      ops.push(op)
    }
    if (urgent !== undefined) {
      for (const key of urgent.keys()) {
        if (ops.length >= max) return ops
        const entry = this.lookup(key)
        if (entry !== undefined && entry.list === this.dirty && !busy.has(key) && stayed?.has(entry) !== true && !this.isHeld(entry)) take(entry)
      }
    }
    let entry = this.dirty.head
    while (entry !== undefined && ops.length < max) {
      const next = entry.next
      if ((busy.size === 0 || !busy.has(entry.key)) && stayed?.has(entry) !== true && !this.isHeld(entry)) take(entry)
      entry = next
    }
    return ops
  }

  oldestSince(): number | undefined {
    const first = this.firstFree()
    return first === undefined ? undefined : this.epoch + first.dirtySince
  }

  lowestVersion(): number | undefined {
    return this.firstFree()?.dirtyVersion
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

  /** The oldest dirty entry not held back. */
  private firstFree(): Entry | undefined {
    if (this.blocked.size === 0) return this.dirty.head
    for (const entry of this.dirty) if (!this.blocked.has(entry)) return entry
    return undefined
  }

  /** Whether the entry's next op is a merge that must wait; keeps `blocked` up to date. */
  private isHeld(entry: Entry): boolean {
    const held = (entry.merge !== undefined || entry.sealed !== undefined) && this.held(entry.key, entry.sealed?.version ?? entry.version)
    if (held) this.blocked.add(entry)
    else if (this.blocked.size > 0) this.blocked.delete(entry)
    return held
  }

  private takeEntry(entry: Entry): PendingOp {
    const sealed = entry.sealed
    let op: PendingOp
    if (sealed !== undefined) {
      // A group sealed before a crash goes first, as it was; merges written since stay dirty behind it.
      entry.sealed = undefined
      op = new PendingMerge(entry.key, sealed.version, this.epoch + entry.dirtySince, sealed.merge, sealed.operand, sealed.result)
      op.entry = entry
      op.first = entry.dirtyVersion
      if (entry.version > sealed.version) return op
    } else if (entry.merge !== undefined) {
      op = new PendingMerge(entry.key, entry.version, this.epoch + entry.dirtySince, entry.merge, entry.operand, entry.encoded as string)
      op.entry = entry
      op.first = entry.dirtyVersion
    } else op = opFor(entry, this.epoch + entry.dirtySince, this.codec, entry.dirtyVersion)
    entry.merge = undefined
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

  /** Merge ops in the queue (a batch then tracks its keys). */
  private merges = 0

  constructor(
    private readonly codec: Codec,
    private readonly clock: CoarseClock,
    /** Key order: merges that must wait; undefined in global order, which needs no merge rule (see the header). */
    private readonly held?: HeldMerge,
  ) {}

  get size(): number {
    return this.queue.length - this.head
  }

  get bytes(): number {
    return this.byteCount
  }

  record(entry: Entry, _sizeDelta: number, revocable = false): void {
    this.push(opFor(entry, this.clock.now(), this.codec), revocable)
  }

  recordWhole(entry: Entry, sizeDelta: number, revocable: boolean): void {
    this.record(entry, sizeDelta, revocable)
  }

  /** Each merge is its own op; `entry.merge` says the key's latest write is one. */
  recordMerge(entry: Entry, _sizeDelta: number, merge: MergeKind, operand: number, revocable: boolean): void {
    const op = new PendingMerge(entry.key, entry.version, this.clock.now(), merge, operand, entry.encoded as string)
    op.entry = entry
    entry.merge = merge
    this.merges++
    this.push(op, revocable)
  }

  /** Held merges stay in the queue in order (and keep the low-water mark): nothing to do. */
  unblock(): void {}

  lowestHeld(): undefined {
    return undefined
  }

  revert(): void {}

  dropRevoked(version: number): void {
    const kept: PendingOp[] = []
    for (let i = this.head; i < this.queue.length; i++) {
      const op = this.queue[i] as PendingOp
      if (op.revocable && op.version > version) {
        this.byteCount -= op.size
        if (op.kind === 'merge') this.merges--
      } else kept.push(op)
    }
    this.queue = kept
    this.head = 0
  }

  /**
   * Ops in queue order; an op whose key is busy stays, and so do the later ops of that key. A merge
   * op stays (with the key's later ops) when the batch already holds an op of its key, or when it
   * is held back.
   */
  take(max: number, busy: ReadonlySet<string>): PendingOp[] {
    const ops: PendingOp[] = []
    const kept: PendingOp[] = []
    const inBatch = this.held !== undefined && this.merges > 0 ? new Set<string>() : undefined
    let stopped: Set<string> | undefined
    let i = this.head
    for (; i < this.queue.length && ops.length < max; i++) {
      const op = this.queue[i] as PendingOp
      if (busy.has(op.key) || stopped?.has(op.key) === true) kept.push(op)
      else if (op.kind === 'merge' && (inBatch?.has(op.key) === true || this.held?.(op.key, op.version) === true)) {
        kept.push(op)
        ;(stopped ??= new Set()).add(op.key)
      } else {
        ops.push(op)
        inBatch?.add(op.key)
      }
    }
    for (const op of ops) {
      this.byteCount -= op.size
      if (op.kind === 'merge') this.merges--
    }
    this.compact(i, kept)
    return ops
  }

  private push(op: PendingOp, revocable: boolean): void {
    op.revocable = revocable
    this.queue.push(op)
    this.byteCount += op.size
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
