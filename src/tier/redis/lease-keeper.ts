/**
 * Keeps this instance's shard leases while batches claimed under them are in flight. The claim
 * script takes and renews a lease (`claims.ts`), so a shard this instance keeps claiming keeps its
 * lease; but a batch whose store call outlasts `leaseMs` would let it run out, and another instance
 * would claim the same dirty keys and send the same rows again (harmless, fenced by version, but
 * duplicate store work). So while keys claimed under a shard's lease are in flight, one timer for
 * that shard renews the lease every `leaseMs / 3` (`RENEW`: only while this instance still holds
 * it). Each tick first forgets the claims none of whose keys is still in a flight (`inFlight`, the
 * flusher's live set: settled, abandoned or stopped alike); a shard with none left stops its timer
 * without renewing. `stop` (at close, before the leases are released) stops them all. A timer per
 * shard held, never one per write or per op; a claim's keys are kept as one array (not a set to
 * fill and empty per key, nor the ops themselves, whose payloads would then live until the next
 * tick), and a tick looks at a live claim's keys only until it finds one in a flight.
 *
 * What it leaves out: correctness. A renewal that fails or comes late (Redis paused, the event loop
 * blocked) only lets another instance duplicate the batch; the store's version fence keeps that
 * harmless, as it does for a worker that died mid-batch.
 */
import type { PendingOp } from '../../flush/pending-op.js'
import type { RedisClientPort } from './client-port.js'
import type { RedisLayout } from './layout.js'
import { RENEW } from './scripts.js'

interface Held {
  /** The shard's keys of each claim made under its lease, while one of them is in a flight. */
  claims: string[][]
  readonly timer: ReturnType<typeof setInterval>
}

export class LeaseKeeper {
  private readonly held = new Map<number, Held>()

  constructor(
    private readonly port: RedisClientPort,
    private readonly layout: RedisLayout,
    private readonly lease: { readonly token: string; readonly ms: number },
    /** The keys in a flight of this cache's flusher, live. */
    private readonly inFlight: ReadonlySet<string>,
  ) {}

  /**
   * `ops` were claimed under their shards' leases and go into a flight (the scheduler starts it in
   * the same turn of the event loop, before any tick): keep those leases until they leave it.
   */
  hold(ops: readonly PendingOp[]): void {
    const byShard = new Map<number, string[]>()
    for (const { key } of ops) {
      const shard = this.layout.shardOf(key)
      const group = byShard.get(shard)
      if (group === undefined) byShard.set(shard, [key])
      else group.push(key)
    }
    for (const [shard, group] of byShard) {
      let held = this.held.get(shard)
      if (held === undefined) {
        const timer = setInterval(() => this.renew(shard), Math.max(1, Math.floor(this.lease.ms / 3)))
        timer.unref()
        held = { claims: [], timer }
        this.held.set(shard, held)
      }
      held.claims.push(group)
    }
  }

  /** Stops every renewal (at close). */
  stop(): void {
    for (const [shard, held] of this.held) this.drop(shard, held)
  }

  /** A tick: forgets the shard's claims whose keys all left the flights; renews its lease while some are left. */
  private renew(shard: number): void {
    const held = this.held.get(shard)
    if (held === undefined) return
    held.claims = held.claims.filter((keys) => keys.some((key) => this.inFlight.has(key)))
    if (held.claims.length === 0) return this.drop(shard, held)
    this.port.run({ script: RENEW, keys: [this.layout.lease(shard)], args: [this.lease.token, this.lease.ms] }).then(
      (mine) => {
        if (mine === 0 && this.held.get(shard) === held) this.drop(shard, held) // not ours any more
      },
      () => {}, // Redis did not answer: the next tick tries again; a lapse only costs duplicate work
    )
  }

  private drop(shard: number, held: Held): void {
    clearInterval(held.timer)
    this.held.delete(shard)
  }
}
