/** Opens a cache on a FakeClock with warnings silenced, for unit tests. */
import { WriteBehindCache, type CacheOptions, type Store } from '../../src/index.js'
import { FakeClock } from '../../src/testing/fake-clock.js'

export async function openTestCache<V = unknown>(store: Store, options: Partial<CacheOptions> = {}): Promise<{ cache: WriteBehindCache<V>; clock: FakeClock }> {
  const clock = (options.clock as FakeClock | undefined) ?? new FakeClock()
  const cache = await WriteBehindCache.open<V>({ warn: () => {}, ...options, store, clock })
  return { cache, clock }
}
