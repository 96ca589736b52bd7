/**
 * Trust epochs: noticing that Redis may have lost its tail (a replica promoted, or a restart whose
 * append-only file lost its last second), after which clean entries are suspect — the old primary
 * may have flushed a newer value to the store and marked it clean there, while the new primary
 * holds the key clean at an older version, and nothing would ever flush it again. The store is the
 * truth for clean data, so each shard's meta keeps the replication id (`master_replid`) of the node
 * it lives on and a trust epoch; a node promoted or restarted has a new replication id, and the
 * first instance that sees it raises the epoch of that node's shards (`TRUST`). Clean entries carry
 * the epoch they were made clean at (`ACK`, `FILL`); one from an older epoch reads as a miss
 * (`READ`), is loaded from the store and filled again.
 *
 * The check runs at open, then at most every `TRUST_CHECK_MS` (on the tier's poll), at the next
 * poll after a Redis error, and before the next read once a script had to be loaded again (a
 * promoted replica or a restarted server has none: NOSCRIPT). Between a failover and its detection
 * a reader may still be served a stale clean entry: at most about a second plus the poll interval,
 * usually less (the first script call on the new primary answers NOSCRIPT).
 */
import type { RedisClientPort, ScriptCall } from './client-port.js'
import type { RedisLayout } from './layout.js'
import { TRUST } from './scripts.js'
import { infoFields } from './startup.js'

/** How often the replication ids are read when nothing failed meanwhile. */
export const TRUST_CHECK_MS = 1000

export class TrustWatch {
  /** Per shard, the replication id this instance last recorded there. */
  private readonly recorded = new Map<number, string>()
  private checkedAt = Number.NEGATIVE_INFINITY
  private doubt = true
  private running: Promise<void> | undefined
  /** The port's `reloads` when last looked at: a change means a server lost its script cache. */
  private reloads: number

  constructor(
    private readonly port: RedisClientPort,
    private readonly layout: RedisLayout,
    private readonly now: () => number,
  ) {
    this.reloads = port.reloads
  }

  /**
   * Before a read: when a script had to be loaded again since the last look (a promoted replica or
   * a restarted server answers NOSCRIPT first), checks now, so the read already sees the new epoch.
   */
  beforeRead(): Promise<void> {
    if (this.port.reloads === this.reloads) return Promise.resolve()
    this.reloads = this.port.reloads
    this.doubt = true
    return this.poll()
  }

  /** A call to Redis failed (a failover may be under way): check at the next poll, not a second later. */
  suspect(): void {
    this.doubt = true
  }

  /** Checks when due or in doubt; never rejects (a failed check is tried again at the next poll). */
  poll(): Promise<void> {
    if (this.running !== undefined) return this.running
    if (!this.doubt && this.now() - this.checkedAt < TRUST_CHECK_MS) return Promise.resolve()
    this.running = this.check().then(
      () => {
        this.doubt = false
        this.checkedAt = this.now()
      },
      () => {
        this.doubt = true
      },
    )
    return this.running.finally(() => (this.running = undefined))
  }

  /** Reads each primary's replication id and records it in the meta of each of its shards where it changed. Rejects when Redis fails. */
  async check(): Promise<void> {
    const primaries = await this.port.primaries()
    const ids = new Map<string, string>()
    for (const server of primaries) {
      const id = infoFields(await server.info('replication')).get('master_replid')
      if (id !== undefined) ids.set(server.address, id)
    }
    const single = primaries.length === 1 ? ids.values().next().value : undefined
    const runs: Array<Promise<void>> = []
    let unknown = false
    for (let shard = 0; shard < this.layout.shards; shard++) {
      const call: ScriptCall = { script: TRUST, keys: [this.layout.meta(shard)], args: [] }
      const id = single ?? ids.get(this.port.ownerOf(call))
      if (id === undefined) unknown = true
      else if (this.recorded.get(shard) !== id) runs.push(this.port.run({ ...call, args: [id] }).then(() => void this.recorded.set(shard, id)))
    }
    await Promise.all(runs)
    if (unknown) throw new Error('the replication id of a shard’s primary is not known yet')
  }
}
