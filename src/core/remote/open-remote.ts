/**
 * `WriteBehindCache.open({ store, tier })`: the options a shared tier takes (every cache option
 * but `dir`, `syncIntervalMs`, `logWriteScheduling`, `recovery`, `segmentBytes`, `memory`, `coalesce:
 * false` and `flush.order: 'global'`; durability `memory`, `replicated` or `store`, default
 * `memory`), the store's check, then the tier's own (`startup.ts`: eviction policy, AOF, layout).
 */
import type { CacheOptions } from '../../contracts/options.js'
import { InvalidOptionError } from '../../errors.js'
import { RedisTier } from '../../tier/redis/redis-tier.js'
import { invalid, oneOf } from '../../validate/check.js'
import { checkStore } from '../open-cache.js'
import { resolveOptions } from '../resolve-options.js'
import { RemoteCache, TIER_DURABILITIES } from './remote-cache.js'
import { RemoteEngine } from './remote-engine.js'

/** Cache options that belong to the embedded tier only. */
const EMBEDDED_ONLY = ['dir', 'syncIntervalMs', 'logWriteScheduling', 'recovery', 'segmentBytes', 'memory'] as const

export async function openRemote<V>(options: CacheOptions): Promise<RemoteCache<V>> {
  const { tier, durability, ...rest } = options
  if (!(tier instanceof RedisTier)) throw invalid('tier', "a RedisTier (new RedisTier({ client, name }) from 'writebehind/redis')", tier)
  for (const name of EMBEDDED_ONLY) {
    if (options[name] !== undefined) throw new InvalidOptionError(name, `${name} cannot go with tier: a Redis tier keeps its dirty state in Redis, not in a dir or in process memory`)
  }
  if (options.coalesce === false) throw new InvalidOptionError('coalesce', 'coalesce: false is not available on a Redis tier (it keeps one dirty entry per key)')
  if (options.flush?.order === 'global') throw new InvalidOptionError('flush.order', "flush.order 'global' is not available on a Redis tier yet")
  const level = oneOf(durability, 'durability', TIER_DURABILITIES) ?? 'memory'
  // Resolved as a write-through cache so that the embedded tier's "no dir" warning stays quiet: this tier has no dir by design.
  const resolved = { ...resolveOptions({ ...rest, durability: 'store' }), durability: level }
  if (resolved.checkStore) await checkStore(resolved.store)
  const engine = new RemoteEngine(resolved, tier)
  await tier.open({
    codec: resolved.codec,
    clock: resolved.clock,
    warn: resolved.warn,
    ttlMs: resolved.ttlMs,
    maxEntries: resolved.backlog.maxEntries,
    settledElsewhere: (key, version) => engine.settledElsewhere(key, version),
    heldAt: (key, version) => engine.heldAt(key, version),
    inFlight: engine.flusher.busy,
  })
  const cache = new RemoteCache<V>(engine)
  engine.start()
  return cache
}
