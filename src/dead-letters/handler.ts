/**
 * What the cache does with writes that could not be flushed. They go to the persistent
 * dead-letter queue with their error (never silently dropped), the cache keeps serving their
 * value (the entry is pinned in memory, also after a restart), and a write-through waiting on one
 * is rejected with `DeadLetteredError`. Replay sends them to the store again with their ORIGINAL
 * version, so a newer write, in the cache or already in the store, always wins.
 *
 * A dead letter is news only until a newer write of its key lands: that write's flight removes
 * the letter (durably, before the flight ends, so the checkpoint cannot pass the newer write while
 * the letter is still on disk), and the letter is neither served nor replayed again. At open a
 * letter is pinned only when neither the log nor the store holds something newer.
 *
 * Replay goes through the scheduler like any flush (batch size, concurrency, one flight per key).
 *
 * A merge letter (an increment, max or min) is not superseded by a newer version in the tier: the
 * merges written since carry only their own deltas, and are held back by the tier until the letter
 * leaves the queue (replayed, dropped, or retired by a set or delete that landed); `released` then
 * says so, and the held merges go.
 */
import type { Clock } from '../contracts/clock.js'
import type { Codec } from '../contracts/codec.js'
import type { Store } from '../contracts/store.js'
import { DeadLetteredError } from '../errors.js'
import { opFromRecord, type MergeFields, type PendingOp } from '../flush/pending-op.js'
import { describeError } from '../flush/retry.js'
import type { DeadLetter, DeadLetterSelector } from '../contracts/dead-letters.js'
import type { ReplayReport } from '../contracts/reports.js'
import type { DeadLetterQueue } from './queue.js'

/** What the handler needs of the tier that serves the letters' values. */
export interface DeadLetterTier {
  /** The cached version of `key`, if it is cached. */
  versionOf(key: string): number | undefined
  /** `op` is in the queue now: keep serving its value. */
  deadLettered(op: PendingOp): void
  /** Serve a recovered letter's value. */
  pin(key: string, encoded: string | null, version: number): void
  /** Stop serving `key` at `version` (only if it is a pinned letter's value, with `onlyPinned`). */
  unpin(key: string, version: number, onlyPinned: boolean): void
}

export interface DeadLetterDeps {
  readonly queue: DeadLetterQueue
  readonly tier: DeadLetterTier
  readonly store: Pick<Store, 'load'>
  readonly clock: Clock
  readonly codec: Codec
  /** Sends replayed ops through the flush pipeline; resolves when their flights ended. */
  readonly redeliver: (ops: PendingOp[]) => Promise<void>
  /** Keys in a flight now. */
  readonly inFlight: ReadonlySet<string>
  /** A write-through waiting on a dead-lettered version rejects. */
  readonly failWriteThroughs: (key: string, version: number, error: (waiterVersion: number) => Error) => void
  readonly onDeadLetter: (event: { key: string; version: number; error: Error }) => void
  readonly warn: (code: string, message: string) => void
  /**
   * The merge letters of `keys` left the queue (replayed, retired, or `dropped` by the user): the
   * merges of those keys it held back may go.
   */
  readonly released: (keys: readonly string[], dropped: boolean) => void
}

export class DeadLetterHandler {
  private readonly replaying = new Set<PendingOp>()
  private readonly replayedOk: PendingOp[] = []
  private added = 0

  constructor(private readonly deps: DeadLetterDeps) {}

  /** Dead letters added since open. */
  get deadLettered(): number {
    return this.added
  }

  /** Persists failed ops as dead letters, pins their values, rejects write-throughs on them. */
  async add(ops: readonly PendingOp[], error: Error): Promise<void> {
    const now = this.deps.clock.now()
    const description = describeError(error)
    const letters = ops.map((op): DeadLetter => ({
      key: op.key,
      version: op.version,
      kind: op.kind,
      encoded: op.kind === 'set' ? op.encoded : op.kind === 'merge' ? op.result : null,
      ...(op.kind === 'merge' ? { merge: op.merge, operand: op.operand } : {}),
      error: description,
      attempts: Math.max(1, op.attempts),
      firstFailedAt: op.firstFailedAt === 0 ? now : op.firstFailedAt,
      lastFailedAt: now,
    }))
    await this.deps.queue.add(letters)
    this.added += letters.length
    for (const op of ops) {
      this.deps.tier.deadLettered(op)
      this.deps.onDeadLetter({ key: op.key, version: op.version, error })
      this.deps.failWriteThroughs(op.key, op.version, () => new DeadLetteredError(op.key, op.version, error))
    }
  }

  /** Called for every op that reached the store; collects replayed ones. */
  noteApplied(op: PendingOp): void {
    if (this.replaying.size > 0 && this.replaying.has(op)) this.replayedOk.push(op)
  }

  /**
   * The ops reached the store: dead letters of their keys at or below their versions are
   * superseded and leave the queue. `undefined` when there are none (the common case, no await).
   */
  retire(ops: readonly PendingOp[]): Promise<void> | undefined {
    const { queue } = this.deps
    if (queue.size === 0) return undefined
    let refs: Array<{ key: string; version: number }> | undefined
    let merges: string[] | undefined
    for (const op of ops) {
      const letter = queue.kindOf(op.key)
      if (letter === undefined || letter.version > op.version) continue
      ;(refs ??= []).push({ key: op.key, version: op.version })
      if (letter.kind === 'merge') (merges ??= []).push(op.key)
    }
    if (refs === undefined) return undefined
    const removing = queue.remove(refs)
    return merges === undefined ? removing : removing.then(() => this.deps.released(merges, false))
  }

  /**
   * After open: a dead letter's value is served (pinned) unless something newer exists: a write the
   * log replayed, or a newer version in the store (then the letter is superseded and removed). A
   * store that cannot be read now leaves the letters pinned (warning `WB_DLQ_UNCHECKED`).
   */
  async pinRecovered(): Promise<void> {
    const { queue, tier } = this.deps
    const letters = queue.list().filter((letter) => (tier.versionOf(letter.key) ?? 0) < letter.version)
    if (letters.length === 0) return
    const stored = await this.storedVersions(letters.map((l) => l.key))
    const superseded = letters.filter((l) => (stored.get(l.key) ?? 0) > l.version)
    if (superseded.length > 0) await this.remove(superseded, false)
    for (const letter of letters) {
      if ((stored.get(letter.key) ?? 0) > letter.version) continue
      tier.pin(letter.key, letter.encoded, letter.version)
    }
  }

  /** Sends matching letters to the store again, with their original versions (a newer write wins). */
  async replay(selector?: DeadLetterSelector): Promise<ReplayReport> {
    const { queue, tier, clock, codec } = this.deps
    const superseded: DeadLetter[] = []
    const ops: PendingOp[] = []
    let busy = 0
    for (const letter of queue.list(selector)) {
      // A merge letter's delta is in no newer write of the tier (see the header): it is replayed.
      if (letter.kind !== 'merge' && (tier.versionOf(letter.key) ?? 0) > letter.version) superseded.push(letter)
      else if (this.deps.inFlight.has(letter.key)) busy++
      else ops.push(opFromRecord(letter.key, letter.version, letter.encoded, clock.now(), codec, mergeOf(letter)))
    }
    await queue.remove(superseded)
    if (ops.length === 0) return { replayed: 0, superseded: superseded.length, failed: 0, busy }
    for (const op of ops) {
      op.redelivery = true
      this.replaying.add(op)
    }
    await this.deps.redeliver(ops)
    const ok = this.replayedOk.splice(0).filter((op) => this.replaying.has(op))
    for (const op of ops) this.replaying.delete(op)
    await this.remove(ok, false)
    // Replayed means applied, or fenced by something newer in the store: the store knows which.
    for (const op of ok) tier.unpin(op.key, op.version, false)
    return { replayed: ok.length, superseded: superseded.length, failed: ops.length - ok.length, busy }
  }

  /** Discards matching dead letters; their values are no longer served (the next read goes to the store). */
  async drop(selector?: DeadLetterSelector): Promise<number> {
    const letters = this.deps.queue.list(selector)
    await this.remove(letters, true)
    for (const letter of letters) this.deps.tier.unpin(letter.key, letter.version, true)
    return letters.length
  }

  /** Removes letters (durably), then releases the merges their merge letters held back. */
  private async remove(letters: ReadonlyArray<{ key: string; version: number; kind: DeadLetter['kind'] }>, dropped: boolean): Promise<void> {
    const merges = letters.filter((l) => l.kind === 'merge').map((l) => l.key)
    await this.deps.queue.remove(letters)
    if (merges.length > 0) this.deps.released(merges, dropped)
  }

  private async storedVersions(keys: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    try {
      const loaded = await this.deps.store.load(keys)
      for (const [key, entry] of loaded) out.set(key, entry.version)
    } catch (error) {
      this.deps.warn('WB_DLQ_UNCHECKED', `writebehind: could not read the store to check ${keys.length} dead letters against it (${String(error)}); their values are served until a newer write lands`)
    }
    return out
  }
}

/** A merge letter's kind and operand, for its replayed op. */
function mergeOf(letter: DeadLetter): MergeFields | undefined {
  return letter.kind === 'merge' && letter.merge !== undefined && letter.operand !== undefined ? { merge: letter.merge, operand: letter.operand } : undefined
}
