/**
 * `registerPrometheus(cache, options)`: publishes a cache's metrics (the instruments table) on a
 * prom-client registry. Counters and histograms are fed by the cache's diagnostics channels from
 * this call on; gauges read `cache.stats()` at scrape time. It never creates, resets or clears a
 * registry, and never calls `collectDefaultMetrics`: the registry and its other metrics stay yours.
 *
 * Several caches may share a registry: they share its metrics, told apart by the `cache` label (the
 * cache's `name`). A second cache of the same name on one registry is refused
 * (`E_METRICS_DUPLICATE`): their messages could not be told apart.
 */
import type * as PromClient from 'prom-client'
import { MetricsRegistrationError } from '../errors.js'
import { subscribeMetrics } from '../metrics/feed.js'
import { labelCombinations } from '../metrics/instruments.js'
import { loadPeer } from '../metrics/peer.js'
import type { MeteredCache } from '../metrics/readings.js'
import { metricsSink, type Recorders } from '../metrics/sink.js'
import { checkLabels, checkMeteredCache, checkPrefix } from '../metrics/check.js'
import { Family } from './family.js'
import type { PrometheusRegistryLike } from './registry.js'

export interface PrometheusOptions {
  /** The prom-client `Registry` to publish on (never reset or cleared). @default prom-client's global `register` */
  register?: PrometheusRegistryLike
  /** Prefix of every metric name. @default 'writebehind_' */
  prefix?: string
  /**
   * Static labels added to every series of this cache (`{ service: 'api' }`). Caches sharing a
   * registry and a prefix must use the same label names. Not `cache`, `op`, `durability`,
   * `result`, `outcome` or `le`. @default {}
   */
  labels?: Readonly<Record<string, string>>
}

/** What `registerPrometheus` returns. */
export interface PrometheusHandle {
  /**
   * Stops feeding the metrics, removes this cache's series, and removes the metrics from the
   * registry if no other cache uses them. Safe to call twice.
   */
  unregister(): void
}

/** The default prefix of metric names. */
export const DEFAULT_PREFIX = 'writebehind_'

/** Families by registry, then by prefix. */
const families = new WeakMap<object, Map<string, Family>>()

/** Publishes `cache`'s metrics on a prom-client registry; see the module header. */
export function registerPrometheus(cache: MeteredCache, options: PrometheusOptions = {}): PrometheusHandle {
  checkMeteredCache(cache)
  const prefix = checkPrefix(options.prefix, DEFAULT_PREFIX)
  const staticLabels = checkLabels(options.labels)
  const client = loadPeer<typeof PromClient>('prom-client', 'registerPrometheus')
  const register: PrometheusRegistryLike = options.register ?? client.register
  const name = cache.name
  const labels = Object.freeze({ cache: name, ...staticLabels })
  const family = familyOf(register, prefix, Object.keys(labels), name)
  if (family.members.has(name)) throw new MetricsRegistrationError('E_METRICS_DUPLICATE', name)
  try {
    family.ensureMetrics(client, name)
  } catch (error) {
    if (family.members.size === 0) families.get(register)?.delete(prefix)
    throw error
  }
  family.members.set(name, { cache, labels })
  const recorders: Recorders = { counter: (id, set) => family.counter(id, set), histogram: (id, set) => family.histogram(id, set) }
  const unsubscribe = subscribeMetrics(name, metricsSink(recorders, labels, cache.recovery?.records ?? 0))
  let registered = true
  return {
    unregister() {
      if (!registered) return
      registered = false
      unsubscribe()
      family.members.delete(name)
      family.removeSeries({ cache, labels }, (instrument) => labelCombinations(instrument.labels))
      if (family.members.size === 0) {
        family.removeMetrics()
        families.get(register)?.delete(prefix)
      }
    },
  }
}

function familyOf(register: PrometheusRegistryLike, prefix: string, labelNames: string[], cache: string): Family {
  let byPrefix = families.get(register)
  if (byPrefix === undefined) families.set(register, (byPrefix = new Map<string, Family>()))
  const family = byPrefix.get(prefix)
  if (family === undefined) {
    const made = new Family(register, prefix, labelNames)
    byPrefix.set(prefix, made)
    return made
  }
  if (family.labelNames.join(',') !== labelNames.join(',')) throw new MetricsRegistrationError('E_METRICS_CONFLICT', cache, `${prefix}* (label names ${labelNames.join(', ')})`)
  return family
}
