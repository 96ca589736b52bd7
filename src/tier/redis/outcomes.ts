/**
 * The flush pipeline's outcomes, written back to Redis: `applied` and `superseded` are queued and
 * sent once per microtask, one compare-and-swap script per shard and chunk (`ack`, `supersede`);
 * dead letters go at once (`deadletter`), and the pipeline waits for them, as for a failed op's
 * retry state (`retrying`). A key stays "settling"
 * (not claimed again by this process) until its outcome is in Redis, so a batch is not sent twice
 * only because its acknowledgement was still on the wire. An outcome that fails to reach Redis
 * leaves the entry dirty: it is flushed again and fenced by the store, nothing is lost.
 */
import type { PendingOp } from '../../flush/pending-op.js'
import type { RedisClientPort, ScriptCall } from './client-port.js'
import type { RedisLayout } from './layout.js'
import { RETRY } from './retry-scripts.js'
import { ACK, CHUNK, DEAD_LETTER, SUPERSEDE } from './scripts.js'

interface ShardQueue {
  applied: PendingOp[]
  superseded: Array<[PendingOp, number]>
}

export class Outcomes {
  private queued = new Map<number, ShardQueue>()
  private readonly settling = new Map<string, number>()
  private readonly sending = new Set<Promise<void>>()
  private scheduled = false

  constructor(
    private readonly port: RedisClientPort,
    private readonly layout: RedisLayout,
    /** How long a clean entry stays in Redis (0: no expiry). */
    private readonly ttlMs: number,
    private readonly warn: (code: string, message: string) => void,
    /** What an acknowledgement saw of its shard after its work: dirty keys, lowest unflushed version, earliest due score (undefined: none). */
    private readonly shardSeen: (shard: number, dirty: number, lowest: number | undefined, oldest: number | undefined) => void,
  ) {}

  /** Whether `key`'s last outcome is still on its way to Redis. */
  isSettling(key: string): boolean {
    return this.settling.has(key)
  }

  applied(op: PendingOp): void {
    this.queue(op).applied.push(op)
  }

  superseded(op: PendingOp, storeVersion: number): void {
    this.queue(op).superseded.push([op, storeVersion])
  }

  /** Resolves when every outcome queued so far reached Redis (or failed to). */
  async settled(): Promise<void> {
    this.send()
    while (this.sending.size > 0) await Promise.all(this.sending)
  }

  /** Moves `ops` to their shards' dead-letter streams; rejects if Redis did not take them (the pipeline then holds and retries them). */
  async deadLetter(ops: readonly PendingOp[], error: Error): Promise<void> {
    const message = `${error.name}: ${error.message}`
    const calls: ScriptCall[] = []
    for (const [shard, group] of byShard(this.layout, ops)) {
      for (const chunk of chunks(group)) {
        const args = chunk.flatMap((op) => [op.key, String(op.version), op.kind === 'delete' ? '1' : '0', op.kind === 'set' ? op.encoded : '', String(op.attempts), String(op.firstFailedAt)])
        calls.push({
          script: DEAD_LETTER,
          keys: [this.layout.dirty(shard), this.layout.vers(shard), this.layout.dlq(shard), this.layout.retry(shard), ...chunk.map((op) => this.layout.entry(shard, op.key))],
          args: [message, ...args],
        })
      }
    }
    await Promise.all(calls.map((call) => this.port.run(call)))
  }

  /**
   * Records in Redis that `ops` failed: their attempts, and that no instance may try them again
   * before `delayMs` from now (`retry-scripts.ts`; only where the entry still holds the op's
   * version). Rejects if Redis did not take it (the caller warns and goes on: the count is then
   * only in this process, as a worker's own retries are).
   */
  async retrying(ops: readonly PendingOp[], delayMs: number): Promise<void> {
    const sends: Array<Promise<unknown>> = []
    for (const [shard, group] of byShard(this.layout, ops)) {
      for (const chunk of chunks(group)) {
        sends.push(
          this.port.run({
            script: RETRY,
            keys: [this.layout.dirty(shard), this.layout.retry(shard), ...chunk.map((op) => this.layout.entry(shard, op.key))],
            args: [Math.max(0, Math.round(delayMs)), ...chunk.flatMap((op) => [op.key, String(op.version), String(op.attempts)])],
          }),
        )
      }
    }
    await Promise.all(sends)
  }

  private queue(op: PendingOp): ShardQueue {
    this.settling.set(op.key, (this.settling.get(op.key) ?? 0) + 1)
    const shard = this.layout.shardOf(op.key)
    let queue = this.queued.get(shard)
    if (queue === undefined) this.queued.set(shard, (queue = { applied: [], superseded: [] }))
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.send())
    }
    return queue
  }

  private send(): void {
    this.scheduled = false
    const queued = this.queued
    if (queued.size === 0) return
    this.queued = new Map()
    for (const [shard, queue] of queued) {
      for (const chunk of chunks(queue.applied)) this.track(this.ack(shard, chunk), chunk)
      for (const chunk of chunks(queue.superseded)) {
        this.track(
          this.supersede(shard, chunk),
          chunk.map(([op]) => op),
        )
      }
    }
  }

  private async ack(shard: number, ops: readonly PendingOp[]): Promise<void> {
    const { layout } = this
    const args: Array<string | number> = [this.ttlMs, layout.entryPrefix(shard)]
    for (const op of ops) args.push(op.key, String(op.version))
    const reply = await this.port.run({ script: ACK, keys: [layout.dirty(shard), layout.vers(shard), layout.meta(shard), layout.retry(shard)], args })
    const [, dirty, lowest, oldest] = reply as [number, number, number, number]
    this.shardSeen(shard, dirty, lowest === 0 ? undefined : lowest, oldest === 0 ? undefined : oldest)
  }

  private supersede(shard: number, ops: ReadonlyArray<[PendingOp, number]>): Promise<unknown> {
    const { layout } = this
    return this.port.run({
      script: SUPERSEDE,
      keys: [layout.dirty(shard), layout.vers(shard), layout.meta(shard), layout.retry(shard), ...ops.map(([op]) => layout.entry(shard, op.key))],
      args: ops.flatMap(([op, storeVersion]) => [op.key, String(op.version), String(storeVersion)]),
    })
  }

  private track(sent: Promise<unknown>, ops: readonly PendingOp[]): void {
    const done: Promise<void> = sent
      .then(
        () => undefined,
        (error: unknown) =>
          this.warn(
            'WB_REDIS_ACK_FAILED',
            `writebehind: ${ops.length} flushed writes could not be marked clean in Redis (${String(error)}); they stay dirty and are flushed again (the store fences them)`,
          ),
      )
      .finally(() => {
        this.sending.delete(done)
        for (const op of ops) {
          const left = (this.settling.get(op.key) ?? 1) - 1
          if (left === 0) this.settling.delete(op.key)
          else this.settling.set(op.key, left)
        }
      })
    this.sending.add(done)
  }
}

export function byShard<T extends { readonly key: string }>(layout: RedisLayout, items: readonly T[]): Map<number, T[]> {
  const groups = new Map<number, T[]>()
  for (const item of items) {
    const shard = layout.shardOf(item.key)
    const group = groups.get(shard)
    if (group === undefined) groups.set(shard, [item])
    else group.push(item)
  }
  return groups
}

export function chunks<T>(items: readonly T[], size = CHUNK): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
