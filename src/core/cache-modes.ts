/**
 * How a cache on a shared tier (the `tier` option) opens. The facade cannot import its own
 * subclass for that mode (no import circles), so the shared tier's opener registers here when
 * `writebehind/redis` is loaded (`src/redis.ts`), and `WriteBehindCache.open` calls it.
 */
import type { CacheOptions } from '../contracts/options.js'
import { InvalidOptionError } from '../errors.js'

type Opener = (options: CacheOptions) => Promise<unknown>

let opener: Opener | undefined

/** Called once by `src/redis.ts`. */
export function registerTierOpener(open: Opener): void {
  opener = open
}

export function openOnTier<C>(options: CacheOptions): Promise<C> {
  if (opener === undefined) return Promise.reject(new InvalidOptionError('tier', "tier needs writebehind/redis: import { RedisTier } from 'writebehind/redis'"))
  return opener(options) as Promise<C>
}
