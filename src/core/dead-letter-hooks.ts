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
 */
import { DeadLetteredError } from '../errors.js'
import type { DeadLetter, DeadLetterSelector } from '../contracts/dead-letters.js'
import type { ReplayReport } from '../contracts/reports.js'
import { describeError } from '../flush/retry.js'
import type { CacheParts } from './cache-parts.js'
import { opFromRecord, type PendingOp } from './pending-op.js'

export class DeadLetterHooks {
  private readonly replaying = new Set<PendingOp>()
  private readonly replayedOk: PendingOp[] = []

  constructor(private readonly parts: CacheParts) {}

  /** Persists failed ops as dead letters, pins their values, rejects write-throughs on them. */
  async add(ops: readonly PendingOp[], error: Error): Promise<void> {
    const now = this.parts.options.clock.now()
    const description = describeError(error)
    const letters = ops.map((op): DeadLetter => ({
      key: op.key,
      version: op.version,
      kind: op.kind,
      encoded: op.kind === 'set' ? op.encoded : null,
      error: description,
      attempts: Math.max(1, op.attempts),
      firstFailedAt: op.firstFailedAt === 0 ? now : op.firstFailedAt,
      lastFailedAt: now,
    }))
    await this.parts.dlq.add(letters)
    this.parts.counters.deadLettered += letters.length
    for (const op of ops) this.settleDead(op, error)
  }

  /** Called for every applied op; collects replayed ones. */
  noteApplied(op: PendingOp): void {
    if (this.replaying.size > 0 && this.replaying.has(op)) this.replayedOk.push(op)
  }

  /**
   * The ops reached the store: dead letters of their keys at or below their versions are
   * superseded and leave the queue. `undefined` when there are none (the common case, no await).
   */
  retire(ops: readonly PendingOp[]): Promise<void> | undefined {
    const { dlq } = this.parts
    if (dlq.size === 0) return undefined
    let refs: Array<{ key: string; version: number }> | undefined
    for (const op of ops) {
      const version = dlq.versionOf(op.key)
      if (version !== undefined && version <= op.version) (refs ??= []).push({ key: op.key, version: op.version })
    }
    return refs === undefined ? undefined : dlq.remove(refs)
  }

  /**
   * After open: a dead letter's value is served (pinned) unless something newer exists: a write the
   * log replayed, or a newer version in the store (then the letter is superseded and removed). A
   * store that cannot be read now leaves the letters pinned (warning `WB_DLQ_UNCHECKED`).
   */
  async pinRecovered(): Promise<void> {
    const { dlq, memory, versions } = this.parts
    const letters = dlq.list().filter((letter) => {
      const entry = memory.peek(letter.key)
      return entry === undefined || entry.version < letter.version
    })
    if (letters.length === 0) return
    const stored = await this.storedVersions(letters.map((l) => l.key))
    const superseded = letters.filter((l) => (stored.get(l.key) ?? 0) > l.version)
    if (superseded.length > 0) await dlq.remove(superseded)
    for (const letter of letters) {
      if ((stored.get(letter.key) ?? 0) > letter.version) continue
      versions.observe(letter.version)
      memory.pin(memory.write(letter.key, letter.encoded, letter.version))
    }
  }

  private async storedVersions(keys: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    try {
      const loaded = await this.parts.options.store.load(keys)
      for (const [key, entry] of loaded) out.set(key, entry.version)
    } catch (error) {
      this.parts.options.warn(
        'WB_DLQ_UNCHECKED',
        `writebehind: could not read the store to check ${keys.length} dead letters against it (${String(error)}); their values are served until a newer write lands`,
      )
    }
    return out
  }

  async replay(selector?: DeadLetterSelector): Promise<ReplayReport> {
    const { memory, flusher, options } = this.parts
    const superseded: DeadLetter[] = []
    const ops: PendingOp[] = []
    let busy = 0
    for (const letter of this.parts.dlq.list(selector)) {
      const entry = memory.peek(letter.key)
      if (entry !== undefined && entry.version > letter.version) superseded.push(letter)
      else if (flusher.busy.has(letter.key)) busy++
      else ops.push(opFromRecord(letter.key, letter.version, letter.encoded, options.clock.now(), options.codec))
    }
    await this.parts.dlq.remove(superseded)
    if (ops.length === 0) return { replayed: 0, superseded: superseded.length, failed: 0, busy }
    for (const op of ops) {
      op.redelivery = true
      this.replaying.add(op)
    }
    await flusher.start(ops)
    const ok = this.replayedOk.splice(0).filter((op) => this.replaying.has(op))
    for (const op of ops) this.replaying.delete(op)
    await this.parts.dlq.remove(ok)
    // Replayed means applied, or fenced by something newer in the store: the store knows which.
    for (const op of ok) {
      const entry = memory.peek(op.key)
      if (entry !== undefined && entry.version === op.version) memory.invalidate(entry)
    }
    return { replayed: ok.length, superseded: superseded.length, failed: ops.length - ok.length, busy }
  }

  /** Discards matching dead letters; their values are no longer served (the next read goes to the store). */
  async drop(selector?: DeadLetterSelector): Promise<number> {
    const letters = this.parts.dlq.list(selector)
    await this.parts.dlq.remove(letters)
    for (const letter of letters) {
      const entry = this.parts.memory.peek(letter.key)
      if (entry === undefined || entry.version !== letter.version || !entry.pinned) continue
      this.parts.memory.invalidate(entry)
    }
    return letters.length
  }

  private settleDead(op: PendingOp, error: Error): void {
    const entry = this.parts.memory.peek(op.key)
    if (entry === undefined) return
    if (entry.version === op.version && entry.dirtySince === 0) this.parts.memory.pin(entry)
    this.parts.emit('dead-letter', { key: op.key, version: op.version, error })
    const waiters = entry.waiters
    if (waiters === undefined) return
    const rest = waiters.filter((w) => w.version > op.version)
    for (const w of waiters) if (w.version <= op.version) w.reject(new DeadLetteredError(op.key, op.version, error))
    entry.waiters = rest.length > 0 ? rest : undefined
    if (rest.length === 0) this.parts.scheduler.urgent.delete(op.key)
  }
}
