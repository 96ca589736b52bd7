/**
 * A tier whose values and dirty set live in Redis (`writebehind/redis`): any number of processes
 * open the same `name` and share one cache; each may flush. It is the second `DirtyTier`
 * (`src/flush/dirty-tier.ts`) and carries the read and write side the Redis facade
 * (`src/core/remote/`) calls. Every state change is one atomic script (`scripts.ts`); versions are
 * made inside Redis. The parts: `claims.ts` (take, leases), `lease-keeper.ts` (leases kept while
 * their batches are in flight), `outcomes.ts` (acks by compare-and-swap,
 * dead letters), `snapshot.ts` (what the scheduler reads synchronously), `replica-waits.ts`
 * (durability `replicated`), `startup.ts` (checks before the first write).
 *
 * Retry state lives in Redis too (`retry-scripts.ts`): a failed op's attempts and backoff survive
 * its worker, so a poison entry reaches the dead-letter threshold across worker deaths.
 *
 * On a Redis Cluster (an ioredis `Cluster` as the client) the port routes each script call to its
 * shard's primary (`ioredis-cluster-client.ts`).
 *
 * Every call waits for Redis at most `commandTimeoutMs` (`deadline-port.ts`): a paused or
 * partitioned Redis gives `RedisUnavailableError`, not a call that never settles.
 *
 * A Sentinel-backed ioredis client is one server to the tier: ioredis finds the primary and follows
 * a failover; the tier notices it as it would any promotion (`trust.ts`).
 *
 * A node-redis client (`createClient()`) is one server too (`node-redis-client.ts`).
 *
 * What it leaves out: node-redis's Cluster and Sentinel clients (refused at the door, `options.ts`),
 * and merge ops (the facade's counters write whole values by compare-and-swap, `expect`).
 */
import type { Clock } from '../../contracts/clock.js'
import type { Codec } from '../../contracts/codec.js'
import { VersionExhaustedError } from '../../errors.js'
import type { DirtyTier } from '../../flush/dirty-tier.js'
import type { PendingOp } from '../../flush/pending-op.js'
import { randomBytes } from 'node:crypto'
import { Claims, type EntryRecord } from './claims.js'
import { LeaseKeeper } from './lease-keeper.js'
import { dropLetters, readLetters, requeueLetters, type RedisDeadLetter, type Requeued } from './dead-letters.js'
import type { ScriptCall } from './client-port.js'
import { DeadlinePort } from './deadline-port.js'
import { ioredisPort } from './ioredis-cluster-client.js'
import { RedisLayout } from './layout.js'
import { NodeRedisClient } from './node-redis-client.js'
import { isNodeRedis, resolveRedisTierOptions, type RedisTierOptions, type ResolvedRedisTierOptions } from './options.js'
import { Outcomes } from './outcomes.js'
import { ReplicaWaits } from './replica-waits.js'
import { FILL, RELEASE, STATS, WRITE } from './scripts.js'
import { TierSnapshot, type ShardStats } from './snapshot.js'
import { checkServer } from './startup.js'
import { TrustWatch } from './trust.js'
import { isReplyError, unanswered } from './unanswered.js'

/** What the cache gives the tier when it opens on it. */
export interface TierContext {
  readonly codec: Codec
  readonly clock: Clock
  readonly warn: (code: string, message: string) => void
  /** How long a clean entry stays in Redis (ms); 0: no expiry. */
  readonly ttlMs: number
  /** The backlog cap across the tier; each shard takes its share. */
  readonly maxEntries: number
  /** A key with a write-through waiting was found clean at `version`: another instance flushed it. */
  readonly settledElsewhere: (key: string, version: number) => void
  /**
   * A key with a write-through waiting was read in Redis at `version` (0: no entry, or a clean one
   * no longer trusted): waiters above it were lost, unless the store holds them.
   */
  readonly heldAt: (key: string, version: number) => void
  /**
   * The keys in a flight of the cache's flusher (a live set): while some claimed under a shard's
   * lease are there, the lease is renewed (`lease-keeper.ts`). Without it, leases are renewed only
   * by claims.
   */
  readonly inFlight?: ReadonlySet<string>
}

/** How a write goes: past a full shard (`force`), waiting for replicas, only over version `expect`, with its own ttl. */
export interface WriteMode {
  readonly force: boolean
  readonly replicated: boolean
  /** Write only if the entry's version is this (`'0'`: no entry); else the answer is a conflict. */
  readonly expect?: string | undefined
  /** This write's expiry once clean (ms, 0: never); undefined: the cache's `ttlMs`. */
  readonly ttlMs?: number | undefined
}

/** A write's answer: its version, `full` when its shard's backlog is at its cap, or `conflict` when `expect` did not hold. */
export type WriteAnswer =
  | { readonly full: true; readonly conflict?: undefined }
  | { readonly full: false; readonly conflict: true }
  | {
      readonly full: false
      readonly conflict?: undefined
      readonly version: number
      /** Replicas that acknowledged it (durability `replicated`). */
      readonly replicas: number | undefined
      /** `replicaWait: 'waitaof'`: whether the primary fsynced it to its append-only file. */
      readonly local?: boolean | undefined
    }

interface Parts {
  readonly context: TierContext
  readonly snapshot: TierSnapshot
  readonly claims: Claims
  readonly outcomes: Outcomes
  readonly cap: number
  readonly trust: TrustWatch
  readonly leases: LeaseKeeper | undefined
}

export class RedisTier implements DirtyTier {
  readonly kind = 'redis'
  readonly options: ResolvedRedisTierOptions
  readonly layout: RedisLayout
  private readonly port: DeadlinePort
  private readonly waits: ReplicaWaits
  /** This instance's lease token. */
  readonly token = `${process.pid}:${randomBytes(6).toString('hex')}`
  private parts: Parts | undefined
  private highest = 0
  /** Bumped by whatever may give a sweep something to claim: a write, a refresh, a tick, a shard seen dirty. */
  private changes = 0
  /**
   * `changes` as it was when the last sweep that found nothing this instance may claim started: no
   * sweep again until it moved. Taken at the start, not the end: a write landing while that sweep
   * was out (its key not yet dirty when it looked) must not be forgotten by its empty answer.
   */
  private idleAt = -1

  constructor(options: RedisTierOptions) {
    this.options = resolveRedisTierOptions(options)
    this.layout = new RedisLayout(this.options.name, this.options.shards)
    const { client } = this.options
    this.port = new DeadlinePort(isNodeRedis(client) ? new NodeRedisClient(client) : ioredisPort(client), this.options.commandTimeoutMs)
    this.waits = new ReplicaWaits(this.port, this.options.replicas, this.options.replicaTimeoutMs, this.options.replicaWait === 'waitaof')
  }

  /**
   * Checks the server and the name's layout (`startup.ts`), then reads the tier's state. One cache
   * per tier object. Rejects with `RedisUnavailableError` (`operation: 'open'`) when Redis does not
   * answer; the tier can then be opened again.
   */
  async open(context: TierContext): Promise<void> {
    if (this.parts !== undefined) throw new Error('this RedisTier is already in use by a cache: create one RedisTier per cache')
    await this.start(context).catch((error: unknown) => {
      this.parts = undefined
      throw unanswered(error, 'open')
    })
  }

  private async start(context: TierContext): Promise<void> {
    await checkServer(this.port, this.layout, context.warn, this.options)
    const lease = { token: this.token, ms: this.options.leaseMs }
    const trust = new TrustWatch(this.port, this.layout, () => context.clock.now())
    await trust.check() // before the first read: a failover since the last instance ran is seen now
    const snapshot = new TierSnapshot(this.layout.shards, () => this.readStats())
    const shardSeen = (shard: number, dirty: number, lowest: number | undefined, oldest: number | undefined): void => {
      snapshot.noteShard(shard, dirty, lowest, oldest)
      if (dirty > 0) this.changes++
    }
    this.parts = {
      context,
      snapshot,
      claims: new Claims(this.port, this.layout, lease, context.codec, context.settledElsewhere, context.heldAt),
      outcomes: new Outcomes(this.port, this.layout, context.ttlMs, context.warn, shardSeen),
      cap: Math.max(1, Math.ceil(context.maxEntries / this.layout.shards)),
      trust,
      leases: context.inFlight === undefined ? undefined : new LeaseKeeper(this.port, this.layout, lease, context.inFlight),
    }
    await this.parts.snapshot.refresh()
  }

  // ---- the write and read side (the facade's) ----

  /**
   * Writes `encoded` (null: a tombstone) under `key`: one script sets value, version and dirty mark.
   * `force` passes a full shard (a write-through); `replicated` waits for the replicas (WAIT in the
   * same pipeline) and answers how many acknowledged.
   */
  async write(key: string, encoded: string | null, mode: WriteMode): Promise<WriteAnswer> {
    const { snapshot, cap, context } = this.ready()
    const shard = this.layout.shardOf(key)
    const call: ScriptCall = {
      script: WRITE,
      keys: [this.layout.entry(shard, key), this.layout.dirty(shard), this.layout.vers(shard), this.layout.meta(shard)],
      args: [key, encoded ?? '', encoded === null ? '1' : '0', cap, mode.force ? '1' : '0', mode.expect ?? '', mode.ttlMs === undefined ? '' : Math.ceil(mode.ttlMs)],
    }
    let reply: unknown
    let replicas: number | undefined
    let local: boolean | undefined
    try {
      if (mode.replicated) ({ value: reply, replicas, local } = await this.waits.run(call))
      else reply = await this.port.run(call)
    } catch (error) {
      this.parts?.trust.suspect()
      // Not Redis's own reply: silence (RedisUnavailableError), or a Cluster's refusal, which `unanswered` keeps as it is.
      if (!isReplyError(error)) throw unanswered(error, 'write', key)
      if (error.message.includes('WB_VERSION_EXHAUSTED')) throw new VersionExhaustedError(Number.MAX_SAFE_INTEGER)
      // Redis at maxmemory refuses the write script (it has no allow-oom flag): backpressure, like a full shard.
      if (error.message.startsWith('OOM')) return { full: true }
      throw error
    }
    const [version, count, newly] = reply as [number, number, number?]
    if (version === -1) {
      // Full with keys this process did not count (another instance's writes): read the tier again, so that a flush to make room sees them.
      if (count > (snapshot.perShard[shard] ?? 0)) this.refresh().catch(() => {})
      return { full: true }
    }
    if (version === -2) return { full: false, conflict: true }
    this.highest = Math.max(this.highest, version)
    snapshot.noteWrite(shard, version, newly === 1, context.clock.now())
    this.changes++
    return { full: false, version, replicas, local }
  }

  /** The entries of `keys`, in order; undefined where Redis holds none. Reads the primary. Rejects with `RedisUnavailableError` when Redis does not answer. */
  async read(keys: readonly string[]): Promise<Array<EntryRecord | undefined>> {
    const { claims, trust } = this.ready()
    await trust.beforeRead()
    return claims.read(keys).catch((error: unknown) => {
      trust.suspect()
      throw unanswered(error, 'read', keys.length === 1 ? keys[0] : undefined)
    })
  }

  /** Caches a value loaded from the store, unless Redis holds the key dirty or at that version or newer. True when filled. */
  async fill(key: string, encoded: string | null, version: number): Promise<boolean> {
    const shard = this.layout.shardOf(key)
    const reply = await this.port
      .run({
        script: FILL,
        keys: [this.layout.entry(shard, key), this.layout.meta(shard)],
        args: [encoded ?? '', encoded === null ? '1' : '0', String(version), this.ready().context.ttlMs],
      })
      .catch((error: unknown) => {
        throw unanswered(error, 'read', key)
      })
    return reply === 1
  }

  /** Reads the tier's dirty counts, lowest version and oldest age again (the scheduler's view), and checks for a failover when due (`trust.ts`). */
  async refresh(): Promise<void> {
    const { snapshot, trust } = this.ready()
    await Promise.all([snapshot.refresh(), trust.poll()])
    this.changes++
  }

  /** Resolves once every outcome reported so far is in Redis. */
  settled(): Promise<void> {
    return this.parts?.outcomes.settled() ?? Promise.resolve()
  }

  /** Gives up this instance's shard leases (at close), so another instance flushes them at once. */
  async releaseLeases(): Promise<void> {
    const { layout } = this
    this.parts?.leases?.stop()
    await Promise.all(Array.from({ length: layout.shards }, (_, shard) => this.port.run({ script: RELEASE, keys: [layout.lease(shard)], args: [this.token] })))
  }

  /** Dead letters in Redis across the tier, as last read. */
  get deadLetterCount(): number {
    return this.parts?.snapshot.deadLetters ?? 0
  }

  /** Moves `ops` to the dead-letter streams (the facade's dead-letter hook; the pipeline waits for it). */
  deadLetter(ops: readonly PendingOp[], error: Error): Promise<void> {
    return this.ready().outcomes.deadLetter(ops, error)
  }

  /** Every dead letter in the tier's streams (`dead-letters.ts`). */
  letters(): Promise<RedisDeadLetter[]> {
    return readLetters(this.port, this.layout).catch((error: unknown) => {
      throw unanswered(error, 'deadLetters')
    })
  }

  /** Removes `letters` (and entries still dead at their versions); resolves with how many were removed. */
  dropLetters(letters: readonly RedisDeadLetter[]): Promise<number> {
    return dropLetters(this.port, this.layout, letters).catch((error: unknown) => {
      throw unanswered(error, 'deadLetters')
    })
  }

  /** Puts `letters` back in the dirty set at their versions (a newer write of a key wins), then reads the tier's state again. */
  async requeueLetters(letters: readonly RedisDeadLetter[]): Promise<{ requeued: Requeued[]; superseded: number }> {
    try {
      const result = await requeueLetters(this.port, this.layout, letters)
      await this.refresh()
      return result
    } catch (error) {
      throw unanswered(error, 'deadLetters')
    }
  }

  // ---- DirtyTier: what the flush pipeline reads and reports ----

  get waiting(): number {
    return this.parts?.snapshot.waiting ?? 0
  }

  /** Not tracked for a Redis tier: the cap is on entries (per shard). */
  get waitingBytes(): number {
    return 0
  }

  /**
   * The highest version issued across the tier as last read, or written by this process since: a
   * `flush()` covers every write made to the tier before it, by any instance (the dirty set is shared).
   */
  get highestVersion(): number {
    return Math.max(this.highest, this.parts?.snapshot.highestIssued ?? 0)
  }

  lowestWaiting(): number | undefined {
    return this.parts?.snapshot.lowestWaiting()
  }

  oldestWaiting(): number | undefined {
    return this.parts?.snapshot.oldestWaiting()
  }

  take(max: number, busy: ReadonlySet<string>, first: ReadonlyMap<string, unknown> | undefined): PendingOp[] | Promise<PendingOp[]> {
    const { claims, outcomes, snapshot, leases } = this.ready()
    const skip = (key: string): boolean => busy.has(key) || outcomes.isSettling(key)
    const shards = snapshot.perShard.flatMap((count, shard) => (count > 0 ? [shard] : []))
    if (first === undefined && (this.idleAt === this.changes || shards.length === 0)) return []
    const since = this.changes
    return (async () => {
      const ops = first === undefined ? [] : await claims.takeKeys([...first.keys()], skip)
      const taken = new Set(ops.map((op) => op.key))
      if (ops.length < max) {
        const claimed = await claims.take(max - ops.length, shards, (key) => taken.has(key) || skip(key))
        leases?.hold(claimed) // claimed under their shards' leases: kept while in flight
        ops.push(...claimed)
      }
      if (ops.length === 0) this.idleAt = since
      return ops
    })()
  }

  applied(op: PendingOp): void {
    this.ready().outcomes.applied(op)
  }

  superseded(op: PendingOp, storeVersion: number): void {
    this.ready().outcomes.superseded(op, storeVersion)
  }

  /** Keeps `ops`' attempts in Redis and makes every instance wait `delayMs` before claiming them again. */
  retrying(ops: readonly PendingOp[], delayMs: number): Promise<void> {
    return this.ready().outcomes.retrying(ops, delayMs)
  }

  /** Already done by `deadLetter` (the entry is marked dead in the same script). */
  deadLettered(): void {}

  /** Nothing to forget: settled entries were cleaned by their acknowledgements. */
  settledThrough(): void {}

  tick(): void {
    this.changes++
  }

  private ready(): Parts {
    if (this.parts === undefined) throw new Error('RedisTier: open a cache on it first (WriteBehindCache.open({ store, tier }))')
    return this.parts
  }

  private async readStats(): Promise<ShardStats[]> {
    const { layout } = this
    const replies = await Promise.all(
      Array.from({ length: layout.shards }, (_, shard) => this.port.run({ script: STATS, keys: [layout.dirty(shard), layout.vers(shard), layout.dlq(shard), layout.meta(shard)], args: [] })),
    )
    return replies.map((reply) => {
      const [dirty, lowest, oldest, letters, floor] = reply as [number, string, string, number, string]
      return { dirty, lowestVersion: lowest === '' ? undefined : Number(lowest), oldestMs: oldest === '' ? undefined : Number(oldest), deadLetters: letters, floor: Number(floor) }
    })
  }
}
