/**
 * Merge writes in the embedded tier (`increment`, `max`, `min`): how they combine, and the sealed
 * groups a replay rebuilds. The rules they serve (README "Counters"):
 *
 * - A dirty entry carries either a whole value (a `set`, a `delete`, or merges of mixed kinds: later
 *   merges fold into the value and the op stays a set) or a pending MERGE: a kind and the operand
 *   combined since the key's last op was taken (a sum adds, a max or min compares). The op handed
 *   to the store covers exactly those merges, with the version of the last one.
 * - Every merge op handed out is SEALED in the log (a seal record naming its version) before any
 *   later record of the key, so a replay after a crash rebuilds the very same op (same version,
 *   same operand: fenced if it was applied) and groups only the unsealed rest anew.
 * - A key's next merge op never goes before the previous one is settled (the key is busy while it
 *   flies, and a held merge op is never dropped), and not while the key's earlier merge is
 *   dead-lettered (it is held back; the letter would otherwise be fenced on replay). A merge
 *   pending over a dead-lettered set or delete goes as a set of the whole value, which retires it.
 */
import type { MergeKind } from '../../contracts/store.js'
import type { Codec } from '../../contracts/codec.js'
import { NotANumberError } from '../../errors.js'
import { PendingSet, type PendingMerge, type PendingOp } from '../../flush/pending-op.js'
import type { DirtyLog } from '../../log/dirty-log.js'
import type { VersionSource } from './versions.js'

/** A merge group sealed before a crash (rebuilt by replay): handed out as this op, first. */
export interface SealedGroup {
  readonly version: number
  readonly merge: MergeKind
  readonly operand: number
  /** The value after the group, encoded. */
  readonly result: string
}

/** The operand that combines to the other one: a sealed group's empty rest starts from it. */
export const IDENTITY: Readonly<Record<MergeKind, number>> = { sum: 0, max: -Infinity, min: Infinity }

/** `a` combined with `b` by `kind`. */
export function combine(kind: MergeKind, a: number, b: number): number {
  return kind === 'sum' ? a + b : kind === 'max' ? Math.max(a, b) : Math.min(a, b)
}

/**
 * The number a merge starts from: `undefined` for a missing or deleted key (the merge's result is
 * then its operand); throws `NotANumberError` for any other value.
 */
export function baseOf(key: string, encoded: string | null | undefined, codec: Codec, kind: MergeKind): number | undefined {
  if (encoded === null || encoded === undefined) return undefined
  const value: unknown = codec.decode(encoded)
  if (typeof value !== 'number') throw new NotANumberError(key, kind, describe(value))
  return value
}

/** The merge's result, checked finite (a sum can overflow to Infinity, which no store keeps). */
export function resultOf(key: string, kind: MergeKind, base: number | undefined, operand: number): number {
  const value = base === undefined ? operand : combine(kind, base, operand)
  if (!Number.isFinite(value)) throw new NotANumberError(key, kind, `a number that would become ${value}`)
  return value === 0 ? 0 : value // never -0, which JSON cannot give back
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`
}

/** Whether a merge op of `key` at `version` must wait (an earlier merge of the key is dead-lettered). */
export type HeldMerge = (key: string, version: number) => boolean

/** The kind and version of a key's dead letter, if it has one. */
export type DeadLetterOf = (key: string) => { readonly kind: string; readonly version: number } | undefined

/** Whether a merge op of `key` at `version` must wait: an earlier merge of the key is dead-lettered. */
export function heldBehindLetter(deadLetterOf: DeadLetterOf | undefined): HeldMerge {
  return (key, version) => {
    const letter = deadLetterOf?.(key)
    return letter !== undefined && letter.kind === 'merge' && letter.version < version
  }
}

/** What `handOut` needs of the tier. */
export interface HandOutDeps {
  readonly log: DirtyLog | undefined
  readonly versions: VersionSource
  readonly codec: Codec
  readonly deadLetterOf: DeadLetterOf | undefined
  /** `flush.order: 'global'`, where merges are not held back behind a merge letter. */
  readonly globalOrder: boolean
}

/**
 * A merge op leaving the tier: sealed in the log (before any later record of its key, so a replay
 * rebuilds this very op), and turned into a set of the whole value when it is pending over a
 * dead-lettered set or delete of its key (whose value it builds on, and which that set retires),
 * or, in global order, over a dead-lettered merge (one `skipHalted` skipped: the set carries its
 * delta too, where holding the key back would halt every later write).
 */
export function handOut(op: PendingMerge, { log, versions, codec, deadLetterOf, globalOrder }: HandOutDeps): PendingOp {
  try {
    log?.append({ kind: 'seal', key: op.key, version: versions.next(), sealed: op.version, encoded: null })
  } catch {
    // The log failed (reported by its `failed` event): no later record reaches it either, so a replay still finds this group whole.
  }
  const letter = deadLetterOf?.(op.key)
  if (letter === undefined || letter.version >= op.version || (letter.kind === 'merge' && !globalOrder)) return op
  const set = new PendingSet(op.key, op.version, op.since, op.result, codec)
  set.entry = op.entry
  set.first = op.first
  return set
}
