/**
 * Replay: re-dirties what the log held above its checkpoint, in log (version) order, so that the
 * tier hands out what it would have handed out had the process not died.
 *
 * Sets and deletes simply re-dirty their key (the latest wins). Merges need their groups back
 * (merges.ts): a `seal` record says the key's merges up to its `sealed` version went to the store
 * as ONE op, which may have been applied. That group is rebuilt as it was (same version, same
 * operand: the store fences it if it holds it), and the merges after it are grouped anew behind it.
 * Only the key's LAST sealed group can be unsettled: a key's next merge op is sealed only once the
 * previous one was settled (in the store, dead-lettered, or superseded), so earlier groups are
 * dropped. A set or delete after merges carries the whole value: it replaces them, groups too.
 *
 * The ordered backlog (`coalesce: false`) gives every merge record its own op, as it did before the
 * crash; it ignores seals (a group of records it replays one by one is fenced record by record).
 */
import type { LogRecord, MergeRecord } from '../../log/types.js'
import type { Backlog } from './backlog.js'
import type { MemoryTier } from './memory-tier.js'
import { combine, IDENTITY } from './merges.js'

export class Replay {
  /** Per key, the merge records since its last set, delete or sealed group; 'value' once a whole value is pending. */
  private readonly pending = new Map<string, MergeRecord[] | 'value'>()

  constructor(
    private readonly memory: MemoryTier,
    private readonly backlog: Backlog,
  ) {}

  apply(record: LogRecord): void {
    if (record.kind === 'seal') {
      if (this.backlog.coalescing) this.seal(record.key, record.sealed)
      return
    }
    const entry = this.memory.write(record.key, record.encoded, record.version)
    const sizeDelta = this.memory.lastSizeDelta
    if (record.kind !== 'merge') {
      entry.merge = undefined
      entry.sealed = undefined
      this.pending.set(record.key, 'value')
      this.backlog.record(entry, sizeDelta)
    } else if (!this.backlog.coalescing) {
      this.backlog.recordMerge(entry, sizeDelta, record.merge, record.operand, false)
    } else {
      const pending = this.pending.get(record.key)
      if (pending === undefined) this.pending.set(record.key, [record])
      else if (pending !== 'value') pending.push(record)
      this.backlog.record(entry, sizeDelta)
    }
  }

  /** Sets each key's pending merge from the records after its last group; call once, after the last record. */
  finish(): void {
    for (const [key, pending] of this.pending) {
      const entry = this.memory.peek(key)
      if (pending === 'value' || entry === undefined) continue
      const first = pending[0]
      if (first === undefined) {
        // Only a sealed group is pending: an empty rest that later merges of its kind combine with.
        if (entry.sealed !== undefined) [entry.merge, entry.operand] = [entry.sealed.merge, IDENTITY[entry.sealed.merge]]
      } else if (pending.every((r) => r.merge === first.merge)) {
        entry.merge = first.merge
        entry.operand = fold(pending)
      } else entry.merge = undefined // merges of mixed kinds: the whole value goes, as a set
    }
    this.pending.clear()
  }

  /** The key's merges up to `sealed` become its sealed group; those after it stay pending. */
  private seal(key: string, sealed: number): void {
    const pending = this.pending.get(key)
    const entry = this.memory.peek(key)
    if (pending === undefined || pending === 'value' || entry === undefined) return // settled below the checkpoint, or replaced by a value
    const group = pending.filter((r) => r.version <= sealed)
    const last = group.at(-1)
    if (last === undefined) return
    entry.sealed = { version: last.version, merge: last.merge, operand: fold(group), result: last.encoded }
    this.pending.set(
      key,
      pending.filter((r) => r.version > sealed),
    )
  }
}

function fold(records: readonly MergeRecord[]): number {
  let operand = (records[0] as MergeRecord).operand
  for (let i = 1; i < records.length; i++) {
    const record = records[i] as MergeRecord
    operand = combine(record.merge, operand, record.operand)
  }
  return operand
}
