/**
 * The cache facade on a shared tier (`tier: new RedisTier(…)`): the same public surface as the
 * embedded cache, split by mode rather than branching inside it (STYLE.md). Every read and write
 * is a round trip to Redis, so a value written by any instance is read by every other
 * (read-your-writes across instances: reads go to the primary). Durability: `memory` (the primary
 * applied it), `replicated` (and `replicas` replicas acknowledged it), `store` (write-through).
 *
 * `update`, `getOrSet`/`wrap` and the counters are read-modify-writes by compare-and-swap on the
 * key's version in Redis (`remote-keyed.ts`), so processes racing on one key lose no write.
 *
 * Not available on this tier (they throw `InvalidOptionError` naming `tier`): the synchronous
 * `peek()` and `deadLetters()` (the values and the letters are in Redis, which a synchronous call
 * cannot read: use `get`, and `replayDeadLetters`, `dropDeadLetters` or `writebehind dlq list
 * --redis`), and `skipHalted()` (no global order here). A test keeps every public method of the
 * embedded facade overridden here.
 */
import type { DeadLetter, DeadLetterSelector } from '../../contracts/dead-letters.js'
import type { LoadedEntry, MergeKind } from '../../contracts/store.js'
import type { RecoveryReport } from '../../contracts/events.js'
import type { WriteOptions } from '../../contracts/options.js'
import type { CloseReport, FlushCallOptions, FlushReport, ReplayReport } from '../../contracts/reports.js'
import type { CacheStats } from '../../contracts/stats.js'
import { CacheClosedError, InvalidOptionError } from '../../errors.js'
import type { EntryRecord } from '../../tier/redis/claims.js'
import { toError } from '../../to-error.js'
import { checkNumber, invalid } from '../../validate/check.js'
import { checkFlushOptions, withDeadline } from '../flush-call.js'
import type { ResolvedOptions } from '../resolve-options.js'
import { checkKey, encodeValue } from '../validate.js'
import { WriteBehindCache } from '../write-behind-cache.js'
import { dropTierLetters, replayTierLetters } from './remote-dead-letters.js'
import type { RemoteEngine } from './remote-engine.js'
import { RemoteKeyed, type KeyRead } from './remote-keyed.js'
import { RemoteWrites } from './remote-writes.js'

export { TIER_DURABILITIES } from './remote-writes.js'

export class RemoteCache<V = unknown> extends WriteBehindCache<V> {
  private readonly settings: ResolvedOptions
  private readonly tally = { writes: 0, hits: 0, misses: 0 }
  private shutdown: Promise<CloseReport> | undefined
  private readonly rmw: RemoteKeyed<V>
  private readonly writePath: RemoteWrites

  constructor(private readonly remote: RemoteEngine) {
    super()
    this.settings = remote.options
    remote.attach(this)
    this.writePath = new RemoteWrites(remote, this.settings, this.tally, () => this.shutdown !== undefined)
    const { clock } = this.settings
    this.rmw = new RemoteKeyed(
      (key) => this.readVersioned(key),
      this.settings.codec,
      (ms) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms)),
    )
  }

  override get name(): string {
    return this.settings.name
  }

  // `set` and `delete` are `guard` written out: no closure per write on the hottest path.
  override set(key: string, value: V, options?: WriteOptions): Promise<void> {
    try {
      if (this.shutdown !== undefined) throw new CacheClosedError('set')
      checkKey(key, this.settings.maxKeyBytes)
      const at = this.writePath.at(options)
      return this.writePath.put(key, encodeValue(key, value, this.settings), at)
    } catch (error) {
      return Promise.reject(toError(error))
    }
  }

  override delete(key: string, options?: WriteOptions): Promise<void> {
    try {
      if (this.shutdown !== undefined) throw new CacheClosedError('delete')
      checkKey(key, this.settings.maxKeyBytes)
      return this.writePath.put(key, null, this.writePath.at(options))
    } catch (error) {
      return Promise.reject(toError(error))
    }
  }

  override setMany(entries: Iterable<readonly [string, V]>, options?: WriteOptions): Promise<void> {
    return this.guard('setMany', () => {
      const at = this.writePath.at(options)
      const encoded: Array<[string, string]> = []
      for (const [key, value] of entries) {
        checkKey(key, this.settings.maxKeyBytes)
        encoded.push([key, encodeValue(key, value, this.settings)])
      }
      return Promise.all(encoded.map(([key, text]) => this.writePath.put(key, text, at))).then(() => undefined)
    })
  }

  override deleteMany(keys: Iterable<string>, options?: WriteOptions): Promise<void> {
    return this.guard('deleteMany', () => {
      if (typeof keys === 'string') throw invalid('keys', 'an iterable of keys, such as an array', keys)
      const at = this.writePath.at(options)
      const all = [...keys]
      for (const key of all) checkKey(key, this.settings.maxKeyBytes)
      return Promise.all(all.map((key) => this.writePath.put(key, null, at))).then(() => undefined)
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

  // ---- read-modify-writes, by compare-and-swap on the version in Redis (remote-keyed.ts) ----

  override update(key: string, fn: (current: V | undefined) => V | undefined | Promise<V | undefined>, options?: WriteOptions): Promise<V | undefined> {
    return this.guard('update', () => {
      checkKey(key, this.settings.maxKeyBytes)
      if (typeof fn !== 'function') throw invalid('fn', 'a function (current) => next', fn)
      const at = this.writePath.at(options)
      return this.rmw.update(key, fn, (k, value, expect) => this.writePath.writeIf(k, value, at, expect))
    })
  }

  override getOrSet<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options?: WriteOptions): Promise<V | R> {
    return this.guard('getOrSet', () => {
      checkKey(key, this.settings.maxKeyBytes)
      if (typeof loader !== 'function') throw invalid('loader', 'a function (key) => value', loader)
      const at = this.writePath.at(options)
      return this.rmw.getOrSet(key, loader, (k, value, expect) => this.writePath.writeIf(k, value, at, expect))
    })
  }

  override wrap<R extends V | undefined>(key: string, loader: (key: string) => R | Promise<R>, options?: WriteOptions): Promise<V | R> {
    return this.getOrSet(key, loader, options)
  }

  override increment(key: string, by = 1, options?: WriteOptions): Promise<number> {
    return this.mergeWrite('increment', 'sum', key, by, options)
  }

  override max(key: string, value: number, options?: WriteOptions): Promise<number> {
    return this.mergeWrite('max', 'max', key, value, options)
  }

  override min(key: string, value: number, options?: WriteOptions): Promise<number> {
    return this.mergeWrite('min', 'min', key, value, options)
  }

  // ---- not on this tier: synchronous reads of state that lives in Redis ----

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

  /** `increment`, `max`, `min`: a compare-and-swap loop over the number in Redis (`remote-keyed.ts`). */
  private mergeWrite(operation: string, kind: MergeKind, key: string, operand: unknown, options: WriteOptions | undefined): Promise<number> {
    return this.guard(operation, () => {
      checkKey(key, this.settings.maxKeyBytes)
      const number = checkNumber(operand, operation === 'increment' ? 'by' : 'value', { finite: true, required: true })
      const at = this.writePath.at(options)
      return this.rmw.merge(key, kind, number === 0 ? 0 : number, (k, value, expect) => this.writePath.writeIf(k, value, at, expect))
    })
  }

  /** The key's value with its version in Redis: read through the store (and filled) on a miss. */
  private async readVersioned(key: string): Promise<KeyRead<V>> {
    for (let reads = 1; ; reads++) {
      const [entry] = await this.remote.tier.read([key])
      if (entry !== undefined) return { current: this.decoded(entry), encoded: entry.encoded, expect: String(entry.version) }
      const loaded = await this.remote.reader.loadMany([key])[0]?.entry
      if (loaded === undefined) return { current: undefined, encoded: null, expect: '0' }
      const encoded = loaded.encoded ?? this.settings.codec.encode(loaded.value)
      // Three fills gone at once (expired): the store's value, over no entry.
      if (reads >= 3) return { current: this.settings.codec.decode(encoded) as V, encoded, expect: '0' }
      // Filled (or written meanwhile): read again, for its version in Redis.
      await this.remote.tier.fill(key, encoded, loaded.version)
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
  const why =
    operation === 'skipHalted'
      ? 'there is no global order on it'
      : `it is synchronous and the state is in Redis (use the asynchronous ${operation === 'peek' ? 'get()' : 'replayDeadLetters() / dropDeadLetters(), or writebehind dlq list --redis'})`
  return new InvalidOptionError('tier', `${operation}() is not available on a Redis tier: ${why}; it works on the embedded tier (no tier option)`)
}
