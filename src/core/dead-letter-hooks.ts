/**
 * What the cache does with writes that could not be flushed. They go to the persistent
 * dead-letter queue with their error (never silently dropped), the cache keeps serving their
 * value (the entry is pinned in memory, also after a restart), and a write-through waiting on one
 * is rejected with `DeadLetteredError`. Replay sends them to the store again with their ORIGINAL
 * version, so a newer write, in the cache or already in the store, always wins.
 */
import { DeadLetteredError } from '../errors.js'
import type { DeadLetter, DeadLetterSelector } from '../flush/dead-letters.js'
import { describeError } from '../flush/retry.js'
import type { CacheParts } from './cache-parts.js'
import { opFromRecord, type PendingOp } from './pending-op.js'

export interface ReplayReport {
  /** Letters sent to the store and accepted (applied, or fenced by a newer version there). */
  readonly replayed: number
  /** Letters dropped without a store call: the cache holds a newer write of the key. */
  readonly superseded: number
  /** Letters that failed again (still in the queue, with the new error). */
  readonly failed: number
  /** Letters skipped because their key is being flushed right now; replay again later. */
  readonly busy: number
}

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

  /** After open: a dead letter's value is served (pinned) unless the log replayed a newer write. */
  pinRecovered(): void {
    for (const letter of this.parts.dlq.list()) {
      const entry = this.parts.memory.peek(letter.key)
      if (entry !== undefined && entry.version >= letter.version) continue
      this.parts.versions.observe(letter.version)
      this.parts.memory.pin(this.parts.memory.write(letter.key, letter.encoded, letter.version))
    }
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
    for (const op of ops) this.replaying.add(op)
    await flusher.start(ops)
    const ok = this.replayedOk.splice(0).filter((op) => this.replaying.has(op))
    for (const op of ops) this.replaying.delete(op)
    await this.parts.dlq.remove(ok)
    return { replayed: ok.length, superseded: superseded.length, failed: ops.length - ok.length, busy }
  }

  /** Discards matching dead letters; their pinned values become ordinary clean entries. */
  async drop(selector?: DeadLetterSelector): Promise<number> {
    const letters = this.parts.dlq.list(selector)
    await this.parts.dlq.remove(letters)
    for (const letter of letters) {
      const entry = this.parts.memory.peek(letter.key)
      if (entry === undefined || entry.version !== letter.version || !entry.pinned) continue
      entry.pinned = false
      this.parts.memory.markClean(entry)
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
