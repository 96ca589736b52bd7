/**
 * The write path of a cache on a shared tier (Redis): a write's level and own ttl from its options,
 * then one write script (with `expect`, only over that version: the compare-and-swap of the
 * read-modify-writes), `backlog.whenFull` at a full shard, and the acknowledgement at the write's
 * level: at once (`memory`), the replicas' count checked (`replicated`, reported not confirmed
 * when short), or the write-through's commit (`store`). `remote-cache.ts` calls it.
 */
import type { Durability, WriteOptions } from '../../contracts/options.js'
import { BacklogFullError, CacheClosedError, ReplicationNotConfirmedError, StoreUnavailableError } from '../../errors.js'
import type { WriteAnswer, WriteMode } from '../../tier/redis/redis-tier.js'
import { oneOf } from '../../validate/check.js'
import { checkWriteOptionNames } from '../option-names.js'
import type { ResolvedOptions } from '../resolve-options.js'
import { encodeValue, writeTtl } from '../validate.js'
import type { RemoteEngine } from './remote-engine.js'
import type { Applied } from './remote-keyed.js'

/** The durability levels of a shared tier. */
export const TIER_DURABILITIES = ['memory', 'replicated', 'store'] as const

/** How often a write waiting for room (`whenFull: 'wait'`) tries its shard again. */
const ROOM_POLL_MS = 20

const RESOLVED = Promise.resolve()
/** The answer of every write acknowledged once applied (`memory`): one object, not one per write. */
const APPLIED: Applied = { acknowledged: RESOLVED }
/** The mode of a plain `memory` write (no `expect`, the cache's ttl): one object, not one per write. */
const PLAIN: WriteMode = { force: false, replicated: false }

/** A write's level and its own ttl once clean (undefined: the cache's). */
export interface WriteAt {
  readonly durability: Durability
  readonly ttlMs: number | undefined
}

type Mode = { readonly expect: string | undefined; readonly ttlMs: number | undefined }

export class RemoteWrites {
  /** A write without options: the cache's level and ttl. */
  private readonly usual: WriteAt

  constructor(
    private readonly remote: RemoteEngine,
    private readonly settings: ResolvedOptions,
    /** Counts applied writes (`stats().writes`). */
    private readonly tally: { writes: number },
    /** Whether the cache is closing: a write waiting for room gives up. */
    private readonly closing: () => boolean,
  ) {
    this.usual = { durability: settings.durability, ttlMs: undefined }
  }

  /** The level and ttl `options` ask for, checked (`InvalidOptionError` naming the option). */
  at(options: WriteOptions | undefined): WriteAt {
    if (options === undefined) return this.usual
    checkWriteOptionNames(options)
    const durability = oneOf(options.durability, 'durability', TIER_DURABILITIES) ?? this.settings.durability
    return { durability, ttlMs: options.ttlMs === undefined ? undefined : writeTtl(options, 0) }
  }

  /**
   * Writes `encoded` (null: a tombstone) at its level; resolves once acknowledged there. Times the
   * ack itself (`stats().ack`, the write channel): every write on this tier waits for Redis. One
   * async function between `set` and the tier (each one more is a promise per write).
   */
  async put(key: string, encoded: string | null, at: WriteAt): Promise<void> {
    const started = performance.now()
    const op = encoded === null ? 'delete' : 'set'
    try {
      const answer = await this.remote.tier.write(key, encoded, this.modeOf(at, undefined))
      const applied = answer.full ? await this.whenFull(key, encoded, at, undefined) : this.accepted(key, encoded, at.durability, answer)
      if (applied !== undefined && applied !== APPLIED) await applied.acknowledged
    } catch (error) {
      this.remote.acks.acked(op, key, at.durability, started, false)
      throw error
    }
    this.remote.acks.acked(op, key, at.durability, started, true)
  }

  /** A read-modify-write's write (`remote-keyed.ts`), timed like a `set` or `delete`; undefined when `expect` no longer held. */
  async writeIf(key: string, value: unknown, at: WriteAt, expect: string): Promise<Applied | undefined> {
    if (this.closing()) throw new CacheClosedError('write')
    const encoded = value === undefined ? null : encodeValue(key, value, this.settings)
    const started = performance.now()
    const answer = await this.remote.tier.write(key, encoded, this.modeOf(at, expect))
    const applied = answer.full ? await this.whenFull(key, encoded, at, expect) : this.accepted(key, encoded, at.durability, answer)
    if (applied !== undefined) this.remote.acks.track(encoded === null ? 'delete' : 'set', key, at.durability, started, applied.acknowledged).catch(() => {})
    return applied
  }

  /** How the first try of a write goes (with `expect`, only over that version); throws when a write-through cannot be taken. */
  private modeOf(at: WriteAt, expect: string | undefined): WriteMode {
    const level = at.durability
    if (level === 'memory' && expect === undefined && at.ttlMs === undefined) return PLAIN
    if (level === 'store' && !this.remote.flusher.available) throw new StoreUnavailableError('the flush circuit is open after repeated failures')
    return { expect, ttlMs: at.ttlMs, force: level === 'store', replicated: level === 'replicated' }
  }

  /** A write's shard was full: `backlog.whenFull` applies until it is written (or refused). */
  private async whenFull(key: string, encoded: string | null, at: WriteAt, expect: string | undefined): Promise<Applied | undefined> {
    let level = at.durability
    let answer: WriteAnswer = { full: true }
    while (answer.full) {
      answer = await this.roomFor(key, encoded, level, { expect, ttlMs: at.ttlMs })
      if (this.settings.backlog.whenFull === 'store') level = 'store'
    }
    return this.accepted(key, encoded, level, answer)
  }

  /**
   * A write Redis answered (not full): undefined when `expect` did not hold (nothing written), else
   * the acknowledgement at its level to await (a write-through's commit, or the replicas' count
   * checked; `APPLIED` when there is nothing more to wait for).
   */
  private accepted(key: string, encoded: string | null, level: Durability, answer: Exclude<WriteAnswer, { full: true }>): Applied | undefined {
    if (answer.conflict) return undefined
    const { remote } = this
    this.tally.writes++
    let acknowledged = RESOLVED
    if (level === 'store') acknowledged = remote.writeThroughs.wait(key, answer.version, encoded === null) // first: the scheduler takes waited-for keys at once
    remote.scheduler.afterWrite()
    const wanted = remote.tier.options.replicas
    if (level === 'replicated' && ((answer.replicas ?? 0) < wanted || answer.local === false)) {
      acknowledged = Promise.reject(new ReplicationNotConfirmedError(key, answer.version, answer.replicas ?? 0, wanted, answer.local))
    }
    if (acknowledged === RESOLVED) return APPLIED
    acknowledged.catch(() => {}) // the caller awaits it; this only keeps a rejection from counting as unhandled meanwhile
    return { acknowledged }
  }

  private async roomFor(key: string, encoded: string | null, level: Durability, mode: Mode): Promise<WriteAnswer> {
    const { remote } = this
    remote.diagnostics.backlogFull(remote.tier.waiting, 0)
    remote.emit('backlog:full', { entries: remote.tier.waiting, bytes: 0 })
    switch (this.settings.backlog.whenFull) {
      case 'reject':
        throw new BacklogFullError(remote.tier.waiting, 0)
      case 'store':
        if (!remote.flusher.available) throw new StoreUnavailableError('the backlog is full and the store is failing')
        return remote.tier.write(key, encoded, { ...mode, force: true, replicated: false })
      case 'wait':
        remote.scheduler.makeRoom()
        await new Promise<void>((resolve) => this.settings.clock.setTimeout(() => resolve(), ROOM_POLL_MS))
        if (this.closing()) throw new CacheClosedError('write')
        return remote.tier.write(key, encoded, { ...mode, force: false, replicated: level === 'replicated' })
    }
  }
}
