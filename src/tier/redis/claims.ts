/**
 * `take` for the Redis tier: which dirty entries this process flushes next. A shard is flushed by
 * the instance holding its lease (`SET NX PX`, renewed by token compare in the claim script,
 * released when the shard has nothing dirty); the lease only saves duplicate work, the store's
 * version fence is what keeps a late or duplicate batch harmless. A claim reads entries and changes
 * none of them, so a worker that dies mid-batch leaves them dirty for the next lease holder. Only
 * due keys are claimed (a failed key waits out its backoff, whoever failed it), and each op starts
 * with the attempts Redis holds for its version.
 *
 * Keys with a write-through waiting (`first`) are read directly, lease or not: the writer waits
 * for them. One found clean already (another instance flushed it) is reported to
 * `settledElsewhere`, which resolves its waiters; the version each is found at (0: none) goes to
 * `heldAt`, which rejects waiters above it that a failover lost (and the store does not hold).
 */
import type { Codec } from '../../contracts/codec.js'
import { opFromRecord, type PendingOp } from '../../flush/pending-op.js'
import type { RedisClientPort } from './client-port.js'
import type { RedisLayout } from './layout.js'
import { unpack } from './msgpack.js'
import { byShard, chunks } from './outcomes.js'
import { CHUNK, CLAIM, READ } from './scripts.js'

/** An entry as the `read` script returns it. */
export interface EntryRecord {
  readonly key: string
  readonly version: number
  /** d dirty, c clean, x dead letter. */
  readonly state: string
  /** null for a tombstone. */
  readonly encoded: string | null
  readonly since: number
}

export class Claims {
  /** The shard the next sweep starts at, so every shard gets its turn. */
  private cursor = 0

  constructor(
    private readonly port: RedisClientPort,
    private readonly layout: RedisLayout,
    private readonly lease: { readonly token: string; readonly ms: number },
    private readonly codec: Codec,
    private readonly settledElsewhere: (key: string, version: number) => void,
    private readonly heldAt: (key: string, version: number) => void,
  ) {}

  /**
   * Up to `max` due entries of the shards in `shards` (those worth asking), none for which `skip` is
   * true. Shards are asked in waves, one shard per `CHUNK` still wanted and all of a wave at once
   * (each for its share), so that a batch waits for about one claim call, not one per chunk in turn.
   */
  async take(max: number, shards: readonly number[], skip: (key: string) => boolean): Promise<PendingOp[]> {
    const ops: PendingOp[] = []
    const order = [...shards.filter((s) => s >= this.cursor), ...shards.filter((s) => s < this.cursor)]
    let next = 0
    while (ops.length < max && next < order.length) {
      const need = max - ops.length
      const wave = order.slice(next, next + Math.ceil(need / CHUNK))
      next += wave.length
      const shares = wave.map((_, i) => Math.floor(need / wave.length) + (i < need % wave.length ? 1 : 0))
      const claimed = await Promise.all(wave.map((shard, i) => this.claimShard(shard, shares[i] as number, skip)))
      for (const some of claimed) for (const op of some) ops.push(op)
      this.cursor = ((wave.at(-1) as number) + 1) % this.layout.shards
    }
    return ops
  }

  /** The dirty entries of `keys` (write-throughs waiting), lease or not. */
  async takeKeys(keys: readonly string[], skip: (key: string) => boolean): Promise<PendingOp[]> {
    const ops: PendingOp[] = []
    const wanted = keys.filter((k) => !skip(k))
    const entries = await this.read(wanted)
    entries.forEach((entry, i) => {
      if (entry === undefined) return this.heldAt(wanted[i] as string, 0)
      if (entry.state === 'd') ops.push(opFromRecord(entry.key, entry.version, entry.encoded, entry.since, this.codec))
      else this.settledElsewhere(entry.key, entry.version)
      this.heldAt(entry.key, entry.version)
    })
    return ops
  }

  /** The entries of `keys`, in order (undefined where Redis holds none); one script per shard and chunk. */
  async read(keys: readonly string[]): Promise<Array<EntryRecord | undefined>> {
    const found = new Map<string, EntryRecord>()
    const reads: Array<Promise<void>> = []
    for (const [shard, group] of byShard(
      this.layout,
      keys.map((key) => ({ key })),
    )) {
      for (const chunk of chunks(group)) {
        reads.push(
          this.port.run({ script: READ, keys: [this.layout.meta(shard), ...chunk.map(({ key }) => this.layout.entry(shard, key))], args: [] }).then((reply) => {
            const fields = reply as string[]
            chunk.forEach(({ key }, i) => {
              const [version, state, del, payload, since] = fields.slice(i * 5, i * 5 + 5)
              if (version === undefined || version === '') return
              found.set(key, { key, version: Number(version), state: state ?? '', encoded: del === '1' ? null : (payload ?? ''), since: Number(since) })
            })
          }),
        )
      }
    }
    await Promise.all(reads)
    return keys.map((key) => found.get(key))
  }

  /**
   * Up to `max` due entries of `shard`, in script calls of at most `CHUNK` entries each (looking at
   * twice that), so that Redis runs other clients' writes between them. The keys this process has
   * in flight come back too, and are skipped; in all at most 4 × `max` due keys are looked at.
   */
  private async claimShard(shard: number, max: number, skip: (key: string) => boolean): Promise<PendingOp[]> {
    const ops: PendingOp[] = []
    let offset = 0
    while (ops.length < max && offset < max * 4) {
      const next = await this.claimChunk(shard, Math.min(CHUNK, max - ops.length), offset, skip, ops)
      if (next < 0) break
      offset = next
    }
    return ops
  }

  /** One claim script call: adds what it read to `ops`; answers the offset to go on from, or -1 (nothing left, or the lease is another instance's). */
  private async claimChunk(shard: number, want: number, offset: number, skip: (key: string) => boolean, ops: PendingOp[]): Promise<number> {
    const { layout, lease } = this
    const reply = await this.port.run({
      script: CLAIM,
      keys: [layout.dirty(shard), layout.lease(shard), layout.retry(shard)],
      args: [layout.entryPrefix(shard), lease.token, lease.ms, want, '1', want * 2, offset],
      binary: true,
    })
    if (!Buffer.isBuffer(reply)) return -1
    const fields = unpack(reply) as Array<string | number | false>
    for (let i = 1; i + 5 < fields.length; i += 6) {
      const key = fields[i] as string
      if (skip(key)) continue
      const payload = fields[i + 2] as string | false
      const op = opFromRecord(key, fields[i + 1] as number, payload === false ? null : payload, fields[i + 3] as number, this.codec)
      // Retry state from Redis: a worker that died had counted these attempts (retry-scripts.ts).
      op.attempts = fields[i + 4] as number
      op.firstFailedAt = fields[i + 5] as number
      ops.push(op)
    }
    return fields[0] as number
  }
}
