/**
 * The cache facade on a shared tier (`tier: new RedisTier(…)`): the same public surface as the
 * embedded cache, split by mode rather than branching inside it (STYLE.md). Every read and write
 * is a round trip to Redis, so a value written by any instance is read by every other
 * (read-your-writes across instances: reads go to the primary). Durability: `memory` (the primary
 * applied it), `replicated` (and `replicas` replicas acknowledged it), `store` (write-through).
 *
 * Not available on this tier yet (they reject, or throw, with `InvalidOptionError` naming `tier`):
 * `update`, `getOrSet`/`wrap`, `peek`, counters, `skipHalted` and the synchronous `deadLetters()`
 * (the letters are in Redis streams, `{wb:<name>:<shard>}:dlq`: `replayDeadLetters`, `dropDeadLetters`
 * and `writebehind dlq list --redis` read them there). A test keeps every public method of the embedded
 * facade overridden here.
 */
import type { DeadLetter, DeadLetterSelector } from '../../contracts/dead-letters.js'
import type { LoadedEntry } from '../../contracts/store.js'
import type { RecoveryReport } from '../../contracts/events.js'
import type { Durability, WriteOptions } from '../../contracts/options.js'
import type { CloseReport, FlushCallOptions, FlushReport, ReplayReport } from '../../contracts/reports.js'
import type { CacheStats } from '../../contracts/stats.js'
import { BacklogFullError, CacheClosedError, InvalidOptionError, ReplicationNotConfirmedError, StoreUnavailableError } from '../../errors.js'
import type { EntryRecord } from '../../tier/redis/claims.js'
import type { WriteAnswer } from '../../tier/redis/redis-tier.js'
import { toError } from '../../to-error.js'
import { invalid, oneOf } from '../../validate/check.js'
import { checkFlushOptions, withDeadline } from '../flush-call.js'
import { checkWriteOptionNames } from '../option-names.js'
import type { ResolvedOptions } from '../resolve-options.js'
import { checkKey, encodeValue } from '../validate.js'
import { WriteBehindCache } from '../write-behind-cache.js'
import { dropTierLetters, replayTierLetters } from './remote-dead-letters.js'
import type { RemoteEngine } from './remote-engine.js'

/** The durability levels of a shared tier. */
export const TIER_DURABILITIES = ['memory', 'replicated', 'store'] as const

/** How often a write waiting for room (`whenFull: 'wait'`) tries its shard again. */
const ROOM_POLL_MS = 20

export class RemoteCache<V = unknown> extends WriteBehindCache<V> {
  private readonly settings: ResolvedOptions
  private readonly tally = { writes: 0, hits: 0, misses: 0 }
  private shutdown: Promise<CloseReport> | undefined

  constructor(private readonly remote: RemoteEngine) {
    super()
    this.settings = remote.options
    remote.attach(this)
  }

  override get name(): string {
    return this.settings.name
  }

  override set(key: string, value: V, options?: WriteOptions): Promise<void> {
    return this.guard('set', () => {
      checkKey(key, this.settings.maxKeyBytes)
      const durability = this.levelOf(options)
      return this.measured('set', key, durability, () => this.put(key, encodeValue(key, value, this.settings), durability))
    })
  }

  override delete(key: string, options?: WriteOptions): Promise<void> {
    return this.guard('delete', () => {
      checkKey(key, this.settings.maxKeyBytes)
      const durability = this.levelOf(options)
      return this.measured('delete', key, durability, () => this.put(key, null, durability))
    })
  }

  override setMany(entries: Iterable<readonly [string, V]>, options?: WriteOptions): Promise<void> {
    return this.guard('setMany', () => {
      const durability = this.levelOf(options)
      const encoded: Array<[string, string]> = []
      for (const [key, value] of entries) {
        checkKey(key, this.settings.maxKeyBytes)
        encoded.push([key, encodeValue(key, value, this.settings)])
      }
      return Promise.all(encoded.map(([key, text]) => this.measured('set', key, durability, () => this.put(key, text, durability)))).then(() => undefined)
    })
  }

  override deleteMany(keys: Iterable<string>, options?: WriteOptions): Promise<void> {
    return this.guard('deleteMany', () => {
      if (typeof keys === 'string') throw invalid('keys', 'an iterable of keys, such as an array', keys)
      const durability = this.levelOf(options)
      const all = [...keys]
      for (const key of all) checkKey(key, this.settings.maxKeyBytes)
      return Promise.all(all.map((key) => this.measured('delete', key, durability, () => this.put(key, null, durability)))).then(() => undefined)
    })
  }

  override get(key: string): Promise<V | undefined> {
    return this.guard('get', async () => {
      checkKey(key, this.settings.maxKeyBytes)
      const [value] = await this.readMany([key])
      return value
    })
  }

  override getMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    return this.guard('getMany', () => {
      for (const key of keys) checkKey(key, this.settings.maxKeyBytes)
      return this.readMany(keys)
    })
  }

  override has(key: string): Promise<boolean> {
    return this.get(key).then((value) => value !== undefined)
  }

  override flush(options: FlushCallOptions = {}): Promise<FlushReport> {
    return this.guard('flush', async () => {
      const { timeoutMs, signal } = checkFlushOptions(options)
      const mark = await withDeadline(this.remote.drain(), timeoutMs, signal, this.settings.clock, () => this.remote.tier.waiting)
      return { deadLettered: this.remote.deadLettersUpTo(mark), superseded: this.remote.supersededUpTo(mark) }
    })
  }

  /** Replays the letters in the tier's streams at their original versions (`remote-dead-letters.ts`); a newer write of a key wins. */
  override replayDeadLetters(filter?: DeadLetterSelector): Promise<ReplayReport> {
    return this.guard('replayDeadLetters', () => replayTierLetters(this.remote.tier, filter, () => this.flush()))
  }

  override dropDeadLetters(filter?: DeadLetterSelector): Promise<number> {
    return this.guard('dropDeadLetters', () => dropTierLetters(this.remote.tier, filter))
  }

  override stats(): CacheStats {
    return this.remote.stats(this.tally)
  }

  override close(): Promise<CloseReport> {
    this.shutdown ??= this.remote.close()
    return this.shutdown
  }

  override get closed(): boolean {
    return this.shutdown !== undefined
  }

  override get recovery(): RecoveryReport | undefined {
    return undefined
  }

  // ---- not on this tier yet ----

  override update(): Promise<V | undefined> {
    return notYet('update')
  }

  override getOrSet<R extends V | undefined>(): Promise<V | R> {
    return notYet('getOrSet')
  }

  override wrap<R extends V | undefined>(): Promise<V | R> {
    return notYet('wrap')
  }

  override increment(): Promise<number> {
    return notYet('increment')
  }

  override max(): Promise<number> {
    return notYet('max')
  }

  override min(): Promise<number> {
    return notYet('min')
  }

  override peek(): V | undefined {
    throw unavailable('peek')
  }

  override deadLetters(): DeadLetter[] {
    throw unavailable('deadLetters')
  }

  override skipHalted(): number {
    throw unavailable('skipHalted')
  }

  // ---- the paths ----

  /** Runs one write and times its ack: every write on this tier waits for Redis, so each is timed. */
  private measured(op: 'set' | 'delete', key: string, durability: Durability, write: () => Promise<void>): Promise<void> {
    const started = performance.now()
    return this.remote.acks.track(op, key, durability, started, write())
  }

  /** Writes at `durability`; a full shard applies `backlog.whenFull`. */
  private async put(key: string, encoded: string | null, durability: Durability): Promise<void> {
    const { remote } = this
    if (durability === 'store' && !remote.flusher.available) throw new StoreUnavailableError('the flush circuit is open after repeated failures')
    let level = durability
    let answer = await remote.tier.write(key, encoded, { force: level === 'store', replicated: level === 'replicated' })
    while (answer.full) {
      answer = await this.roomFor(key, encoded, level)
      if (this.settings.backlog.whenFull === 'store') level = 'store'
    }
    this.tally.writes++
    if (level === 'store') {
      const committed = remote.writeThroughs.wait(key, answer.version) // first: the scheduler takes waited-for keys at once
      remote.scheduler.afterWrite()
      return committed
    }
    remote.scheduler.afterWrite()
    if (level === 'replicated' && ((answer.replicas ?? 0) < remote.tier.options.replicas || answer.local === false)) {
      throw new ReplicationNotConfirmedError(key, answer.version, answer.replicas ?? 0, remote.tier.options.replicas, answer.local)
    }
  }

  private async roomFor(key: string, encoded: string | null, level: Durability): Promise<WriteAnswer> {
    const { remote } = this
    remote.diagnostics.backlogFull(remote.tier.waiting, 0)
    remote.emit('backlog:full', { entries: remote.tier.waiting, bytes: 0 })
    switch (this.settings.backlog.whenFull) {
      case 'reject':
        throw new BacklogFullError(remote.tier.waiting, 0)
      case 'store':
        if (!remote.flusher.available) throw new StoreUnavailableError('the backlog is full and the store is failing')
        return remote.tier.write(key, encoded, { force: true, replicated: false })
      case 'wait':
        remote.scheduler.pump()
        await new Promise<void>((resolve) => this.settings.clock.setTimeout(() => resolve(), ROOM_POLL_MS))
        if (this.shutdown !== undefined) throw new CacheClosedError('write')
        return remote.tier.write(key, encoded, { force: false, replicated: level === 'replicated' })
    }
  }

  /** Values of `keys` from Redis (the primary); misses read through the store (one load per key at once) and fill Redis by CAS. */
  private async readMany(keys: readonly string[]): Promise<Array<V | undefined>> {
    const { remote } = this
    const entries = await remote.tier.read(keys)
    const missing = keys.filter((_, i) => entries[i] === undefined)
    this.tally.hits += keys.length - missing.length
    this.tally.misses += missing.length
    const loaded = new Map<string, V | undefined>()
    if (missing.length > 0) {
      const loads = await Promise.all(remote.reader.loadMany(missing).map((load) => load.entry))
      await Promise.all(missing.map(async (key, i) => loaded.set(key, await this.fillFrom(key, loads[i]))))
    }
    return keys.map((key, i) => (entries[i] === undefined ? loaded.get(key) : this.decoded(entries[i])))
  }

  private async fillFrom(key: string, loaded: LoadedEntry | undefined): Promise<V | undefined> {
    if (loaded === undefined) return undefined
    const encoded = loaded.encoded ?? this.settings.codec.encode(loaded.value)
    if (await this.remote.tier.fill(key, encoded, loaded.version)) return this.settings.codec.decode(encoded) as V
    // Written (or filled) by someone else meanwhile: theirs is newer.
    const [entry] = await this.remote.tier.read([key])
    return entry === undefined ? (this.settings.codec.decode(encoded) as V) : this.decoded(entry)
  }

  private decoded(entry: EntryRecord | undefined): V | undefined {
    return entry === undefined || entry.encoded === null ? undefined : (this.settings.codec.decode(entry.encoded) as V)
  }

  private levelOf(options: WriteOptions | undefined): Durability {
    if (options === undefined) return this.settings.durability
    checkWriteOptionNames(options)
    if (options.ttlMs !== undefined) throw new InvalidOptionError('ttlMs', 'a per-write ttlMs is not available on a Redis tier: clean entries there take the cache ttlMs')
    return oneOf(options.durability, 'durability', TIER_DURABILITIES) ?? this.settings.durability
  }

  private guard<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      if (this.shutdown !== undefined) throw new CacheClosedError(operation)
      return run()
    } catch (error) {
      return Promise.reject(toError(error))
    }
  }
}

function unavailable(operation: string): InvalidOptionError {
  return new InvalidOptionError('tier', `${operation}() is not available on a Redis tier yet; it works on the embedded tier (no tier option)`)
}

function notYet(operation: string): Promise<never> {
  return Promise.reject(unavailable(operation))
}
