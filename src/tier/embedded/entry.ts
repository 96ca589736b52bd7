/**
 * One cached key (`Entry`), and what it goes back to when revocable writes are rejected (`Undo`).
 *
 * An entry holds on itself only what every write touches: its key, value, version, size, its links
 * in the dirty or clean list and its dirty marks (and `expiresAt`, read on every hit once a ttl is
 * set, in the field the dirty lag uses while the entry is dirty). The state few entries ever need (a dead letter's pin, pending merges, a sealed merge group,
 * an undo capture) lives in one side object, `rare`, made the first time one of them is set to
 * something other than its default. A cache of plain sets then never makes one, and each entry
 * is four fields smaller: on a million distinct keys that is memory the collector does not have
 * to copy and the OS does not have to fault in. The accessors read as the fields did (a default
 * when there is no side object) and setting a default on an entry without one makes none.
 */
import type { MergeKind } from '../../contracts/store.js'
import type { Linked } from './entry-list.js'
import type { SealedGroup } from './merges.js'

/** An entry's rarely used state; see the header. */
class Rare {
  /** Set while the entry's value is held only by the dead-letter queue; keeps it from eviction. */
  pinned = false
  /** What to go back to if writes whose log records have not reached the OS are rejected (see `Undo`). */
  undo: Undo | undefined = undefined
  merge: MergeKind | undefined = undefined
  operand = 0
  sealed: SealedGroup | undefined = undefined
}

/** One cached key. `encoded === null` is a deleted key whose tombstone is not yet flushed. */
export class Entry implements Linked<Entry> {
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  /** The dirty list (backlog) or the clean LRU list the entry is in, if any. */
  list: object | undefined = undefined
  /**
   * When the first unflushed write was made, in ms since the coalescing backlog's epoch (1 or more;
   * the backlog turns it into clock time); 0 when the entry is not in the dirty set.
   */
  dirtySince = 0
  /**
   * `dirtyLag` while the entry is dirty, `expiresAt` while it is clean: each is read only in its
   * own state, so they share one field (one field less on every entry; the dirty mark is set
   * afresh when the entry turns dirty, the expiry when it turns clean).
   */
  private lagOrExpiry = 0
  /** The rarely used state (see the header); undefined until first needed. Read it through the accessors below. */
  private rare: Rare | undefined = undefined

  /**
   * The key's and the value's length, kept beside the value (`rewrite` updates both), so that a
   * write never reads the value it replaces, which is cold in memory by then.
   */
  size = 0
  /**
   * Set only through `rewrite` (and the constructor). Declared with a number, not as a constructor
   * parameter: a class field without one starts as `undefined`, and V8 then keeps a version (above
   * 2^31, a heap number) as a pointer to a new heap number on every write; from a number it keeps
   * one number box per entry and writes each version into it.
   */
  version = 0

  constructor(
    readonly key: string,
    public encoded: string | null,
    version: number,
  ) {
    this.version = version
    this.size = key.length + (encoded === null ? 0 : encoded.length)
  }

  /** `version` minus the version of the first unflushed write (valid when `dirtySince !== 0`; see `dirtyVersion`). */
  get dirtyLag(): number {
    return this.lagOrExpiry
  }

  set dirtyLag(lag: number) {
    this.lagOrExpiry = lag
  }

  /** When the entry expires, set when it turns clean (expiry.ts: ms from the tier's start); 0: never. Valid only while clean. */
  get expiresAt(): number {
    return this.lagOrExpiry
  }

  set expiresAt(at: number) {
    this.lagOrExpiry = at
  }

  /** Set while the entry's value is held only by the dead-letter queue; keeps it from eviction. */
  get pinned(): boolean {
    return this.rare !== undefined && this.rare.pinned
  }

  set pinned(pinned: boolean) {
    if (pinned || this.rare !== undefined) this.own().pinned = pinned
  }

  /** What to go back to if writes whose log records have not reached the OS are rejected (see `Undo`). */
  get undo(): Undo | undefined {
    return this.rare?.undo
  }

  set undo(undo: Undo | undefined) {
    if (undo !== undefined || this.rare !== undefined) this.own().undo = undo
  }

  // Merges (increment, max, min; see backlog.ts and merges.ts):
  /** The kind of the merges pending since the key's last op was taken; undefined when the pending op carries the whole value. */
  get merge(): MergeKind | undefined {
    return this.rare?.merge
  }

  set merge(merge: MergeKind | undefined) {
    if (merge !== undefined || this.rare !== undefined) this.own().merge = merge
  }

  /** Their combined operand (valid while `merge` is set). */
  get operand(): number {
    return this.rare === undefined ? 0 : this.rare.operand
  }

  set operand(operand: number) {
    if (operand !== 0 || this.rare !== undefined) this.own().operand = operand
  }

  /** A merge group sealed before a crash, rebuilt by replay: handed out first, as it was. */
  get sealed(): SealedGroup | undefined {
    return this.rare?.sealed
  }

  set sealed(sealed: SealedGroup | undefined) {
    if (sealed !== undefined || this.rare !== undefined) this.own().sealed = sealed
  }

  /**
   * A write replaces the value (before `rewrite`): it is no longer a pinned dead letter's, and a
   * write that is not revocable (`dropUndo`) lets go of a captured undo (see `Undo`). One check on
   * an entry with no rare state.
   */
  overwritten(dropUndo: boolean): void {
    // Small enough for V8 to inline into every write whatever its budget; the rest is out of line.
    if (this.rare !== undefined) overwrittenRare(this.rare, dropUndo)
  }

  /** A write of the whole value: it replaces pending merges and a sealed group. One check on an entry with no rare state. */
  wholeValue(): void {
    if (this.rare !== undefined) wholeValueRare(this.rare)
  }

  /**
   * The version of the first unflushed write (valid when `dirtySince !== 0`). Kept as a distance
   * from `version`, like `dirtySince` as a distance from an epoch: both then stay small integers,
   * which V8 keeps in the entry itself, where a version or a clock reading (above 2^31) needs a
   * heap number of its own per entry, a third of a new entry's memory before this. They stay small
   * while a key stays dirty under 35 minutes (µs versions) and for the first 24 days of a tier (ms)
   * (half that where V8 compresses pointers); past that V8 boxes them as before, and they mean the
   * same. Both are stored through `smallInt`: the differences of large numbers are heap numbers.
   */
  get dirtyVersion(): number {
    return this.version - this.dirtyLag
  }

  /**
   * Replaces the value and the version (`encoded` and `version` must be set only through here),
   * keeping `dirtyVersion` where it was; returns how much the size changed. One method for both,
   * so that the write path makes one call.
   */
  rewrite(encoded: string | null, version: number): number {
    const size = this.key.length + (encoded === null ? 0 : encoded.length)
    const delta = size - this.size
    this.encoded = encoded
    this.size = size
    if (this.dirtySince !== 0) this.dirtyLag = smallInt(this.dirtyLag + (version - this.version))
    this.version = version
    return delta
  }

  private own(): Rare {
    return (this.rare ??= new Rare())
  }
}

/**
 * `n` in the form V8 keeps in an object's own field: a small integer when it is a 32-bit integer
 * (what `n | 0` gives), else `n` itself. Arithmetic on large numbers (versions, clock readings)
 * gives a heap number even when the result is small, and a single such store makes V8 keep that
 * field of EVERY entry as a separate number box: one more object per entry, and one more memory
 * access each time the field is read.
 */
export function smallInt(n: number): number {
  const int = n | 0
  return int === n ? int : n
}

function overwrittenRare(rare: Rare, dropUndo: boolean): void {
  if (dropUndo) rare.undo?.clear()
  rare.pinned = false
}

function wholeValueRare(rare: Rare): void {
  rare.merge = undefined
  rare.sealed = undefined
}

/**
 * The state of an entry before its first revocable write (durability `log` or `disk`) whose log
 * record has not yet reached the OS. If that write(2) fails, those writes are rejected and the entry
 * goes back to this state (an acknowledged write of the key, even one in the same failed write,
 * survives: a write that is not revocable clears `above`). One object per entry, reused.
 */
export class Undo {
  /** The version of the first revocable write since the capture; 0 when nothing is captured. */
  above = 0
  /** The value before it; `undefined` when the key was not cached (the entry goes away). */
  encoded: string | null | undefined = undefined
  version = 0
  dirtySince = 0
  dirtyVersion = 0
  pinned = false
  merge: MergeKind | undefined = undefined
  operand = 0
  sealed: SealedGroup | undefined = undefined
  /** The ttl the entry would have got once clean (expiry.ts). */
  ttlMs = 0

  /** Nothing captured any more (the write is acknowledged, or rolled back); drops the old value. */
  clear(): void {
    this.above = 0
    this.encoded = undefined
    this.sealed = undefined
  }
}
