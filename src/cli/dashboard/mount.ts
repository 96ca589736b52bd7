/**
 * `mountDashboard(cache)`: the live view of an app's own cache, served from inside the app
 * (`import { mountDashboard } from 'writebehind/dashboard'`). Reads `cache.stats()` a few times a
 * second while a page is open; the simulator's controls are hidden. Same server and security as
 * `writebehind dashboard`: loopback only, a token in the URL, the Host header checked.
 */
import { DEFAULTS } from '../../contracts/defaults.js'
import type { CacheStats } from '../../contracts/stats.js'
import { Sampler } from './sample.js'
import { startDashboardServer, type DashboardServer, type DashboardServerOptions } from './server.js'
import type { DashboardSource } from './source.js'

/** What the dashboard reads of a cache: a `WriteBehindCache` fits. */
export interface ObservedCache {
  readonly name: string
  stats(): CacheStats
}

export interface MountOptions extends DashboardServerOptions {
  /** How often stats are read while a page is open. @default 250 */
  readonly sampleEveryMs?: number
  /** The cache's `flush.maxDelayMs`, drawn beside the oldest unflushed write. @default 5000 (DEFAULTS.flush.maxDelayMs) */
  readonly maxDelayMs?: number
  /** The cache's `alerts.maxStalenessMs`, drawn as the staleness line. @default none */
  readonly maxStalenessMs?: number
}

export type { DashboardServer, DashboardServerOptions }

/** Serves the live view of `cache` on loopback; resolves once listening (open `url`). */
export function mountDashboard(cache: ObservedCache, options: MountOptions = {}): Promise<DashboardServer> {
  return startDashboardServer(cacheSource(cache, options), options)
}

/** A source that samples `cache.stats()` while anyone listens. */
export function cacheSource(cache: ObservedCache, options: MountOptions = {}): DashboardSource {
  const listeners = new Set<(event: string, data: unknown) => void>()
  const sampler = new Sampler()
  const limits = { maxDelayMs: options.maxDelayMs ?? DEFAULTS.flush.maxDelayMs, stalenessMs: options.maxStalenessMs }
  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    const sample = sampler.next(cache.stats(), Date.now(), limits)
    for (const listener of listeners) listener('sample', { run: 0, sample })
  }
  return {
    snapshot: () => ({ mode: 'cache', name: cache.name }),
    subscribe(listener) {
      listeners.add(listener)
      timer ??= setInterval(tick, options.sampleEveryMs ?? 250)
      return () => {
        listeners.delete(listener)
        if (listeners.size > 0) return
        clearInterval(timer)
        timer = undefined
        sampler.reset()
      }
    },
  }
}
